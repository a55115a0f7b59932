"""Tools for tests and benchmarks: real servers on loopback, Debian's Chromium."""

import os

# In CI, tests that need a server or a browser must run: missing ones fail, not skip.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
