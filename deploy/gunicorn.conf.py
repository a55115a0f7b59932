"""Production server settings: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS or the variables
below). Timeouts sit above the upstream deadline so a slow upstream never kills a worker.
"""

import multiprocessing
import os
import tempfile

bind = os.environ.get("USAGE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("USAGE_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("USAGE_THREADS", 4))  # upstream reads are I/O-bound
worker_class = "gthread"
timeout = int(float(os.environ.get("USAGE_UPSTREAM_DEADLINE", 20))) + 15
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then; jitter keeps them from restarting together
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("USAGE_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The query string is left out of the access log: widget URLs carry tokens.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%({x-request-id}o)s"'
errorlog = "-"
# No runtime control socket: nothing uses it, and a non-root home may not be writable.
control_socket_disable = True

# Prometheus counters from every worker are merged through files in this directory.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="usage-metrics-"))


def on_starting(server):
    """Compress the static files before any worker forks, so no worker or request pays."""
    from blueprints.assets import precompress

    precompress()


def on_reload(server):
    """Compress the static files a deploy changed before the new workers start."""
    on_starting(server)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the merged metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
