"""gunicorn for the Dash peer, shaped like deploy/gunicorn.conf.py so both servers match."""

import os

bind = os.environ.get("DASH_PEER_BIND", "127.0.0.1:8050")
workers = int(os.environ.get("DASH_PEER_WORKERS", 2))
threads = 4
worker_class = "gthread"
timeout = 35
keepalive = 5
control_socket_disable = True
accesslog = "-"  # the app's server logs every request too
errorlog = "-"
