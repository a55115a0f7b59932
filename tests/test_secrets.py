"""No configured secret appears in any response or log line of the whole suite.

tests/conftest.py runs this module after every other test of the selection.

Keys, passwords, the service credential, the session secret, the retired embed secret and
every tenant's widget and webhook signing secret the suite created: each is looked for in
every response body and header the app sent and every log record emitted, however the suite
was selected.
"""

from __future__ import annotations

import pytest

from simulators.data import EVOVOICE_NO_ROLE_USER, EVOVOICE_SERVICE_USER, ISNOTAI_INTEGRATIONS

from .conftest import SEEN, TEST_SECRET


def configured_secrets() -> dict[str, str]:
    secrets = {f"isnotai key of {i.name}": i.key for i in ISNOTAI_INTEGRATIONS}
    secrets |= {f"isnotai key body of {i.name}": i.key[7:] for i in ISNOTAI_INTEGRATIONS}
    secrets["EvoVoice service password"] = EVOVOICE_SERVICE_USER[1]
    secrets["EvoVoice viewer password"] = EVOVOICE_NO_ROLE_USER[1]
    secrets["session secret"] = TEST_SECRET
    secrets["retired USAGE_EMBED_SECRET"] = "embed-secret-for-tests-0123456789abcdef"
    secrets |= {
        f"widget signing secret #{n}": secret for n, secret in enumerate(SEEN["embed secrets"])
    }
    secrets |= {
        f"webhook signing secret #{n}": secret for n, secret in enumerate(SEEN["webhook secrets"])
    }
    secrets["test user password"] = "correct horse battery"
    return secrets


def test_no_secret_in_any_response_or_log_line():
    if not SEEN["responses"]:
        pytest.skip("this selection of tests sent no request through the app: nothing to scan")
    leaks = []
    for name, secret in configured_secrets().items():
        for kind in ("responses", "logs"):
            hits = sum(secret in text for text in SEEN[kind])
            if hits:
                leaks.append(f"{name} in {hits} {kind}")
    assert leaks == []
