"""Where cached upstream answers are kept (SQLite or Redis), in a form that cannot run code.

requests-cache pickles by default: whoever can write to the SQLite file or to Redis could
then run code in the app. Entries here are JSON, signed with a key derived from the app's
secret key; an entry that is not JSON, not signed by this app, or signed with another key
reads as absent, so the upstream is asked instead.

An entry is the response's JSON description followed by its body as received: a body of
100,000 records is several megabytes, and base64 inside JSON (requests-cache's form) cost
each write of a fan-out a copy a third larger, encoded and escaped, and each read the same
back. Entries in that earlier form are still read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sqlite3
from urllib.parse import urlsplit

from itsdangerous import BadData, Signer
from requests_cache.backends import BaseCache, RedisCache, SQLiteCache
from requests_cache.models import CachedResponse
from requests_cache.serializers import SerializerPipeline, Stage
from requests_cache.serializers.preconf import json_preconf_stage

# Starts every entry written with its body as received; JSON (the earlier form) cannot.
RAW_BODY_MARK = b"usage-raw-body-1\n"


def is_redis_url(url: str) -> bool:
    """Tell whether a cache URL names a Redis server."""
    return urlsplit(url).scheme in ("redis", "rediss", "unix")


def signed_json(secret: bytes) -> SerializerPipeline:
    """Return a serializer writing signed JSON and reading only what it signed."""
    signer = Signer(secret, salt="usage-http-cache", digest_method=hashlib.sha256)

    def verified(stored: bytes | str) -> bytes:
        try:
            return signer.unsign(stored)
        except (BadData, TypeError, ValueError):
            # requests-cache reads a ValueError as "no entry" (and logs it).
            raise ValueError("a cache entry was not signed by this app; ignored") from None

    return SerializerPipeline(
        [Stage(dumps=_dumps, loads=_loads), Stage(dumps=signer.sign, loads=verified)],
        name="signed-json",
        is_binary=True,
    )


def _dumps(response: CachedResponse) -> bytes:
    """Return the response's description as JSON (without its body), a newline, the body."""
    described = copy.copy(response)  # shallow: the body is not copied, only left out
    described._content = b""
    head = json.dumps(json_preconf_stage.dumps(described), separators=(",", ":"))
    # json.dumps escapes newlines inside strings: the first newline after the mark ends it.
    return b"".join((RAW_BODY_MARK, head.encode(), b"\n", response._content or b""))


def _loads(stored: bytes) -> CachedResponse:
    """Return the response an entry holds, in this form or in the earlier all-JSON one."""
    if not stored.startswith(RAW_BODY_MARK):
        return json_preconf_stage.loads(json.loads(stored))
    head, _, body = stored[len(RAW_BODY_MARK) :].partition(b"\n")
    response = json_preconf_stage.loads(json.loads(head))
    response._content = body
    return response


def open_backend(cache_url: str, stale_max: float, secret: bytes) -> BaseCache:
    """Open the store named by a `sqlite:///path` or `redis://` URL; raise if it is unusable."""
    scheme = urlsplit(cache_url).scheme
    serializer = signed_json(secret)
    if is_redis_url(cache_url):
        from redis import Redis

        # Keep Redis entries past their freshness so they can still be served stale.
        return RedisCache(
            namespace="usage-http",
            connection=Redis.from_url(cache_url, socket_timeout=2, socket_connect_timeout=2),
            ttl_offset=int(stale_max) + 60,
            serializer=serializer,
        )
    if scheme == "sqlite":
        path = cache_url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        _check_writable(path)
        return SQLiteCache(path, wal=True, busy_timeout=5000, serializer=serializer)
    if cache_url == "memory":
        return BaseCache()
    raise ValueError(
        f"USAGE_CACHE_URL must be sqlite:///PATH or redis://HOST:PORT/DB, not {scheme!r}"
    )


def _check_writable(path: str) -> None:
    """Raise sqlite3.Error unless the file is a database this process may write.

    requests-cache drops a refused write without a word, so a read-only file would quietly
    cache nothing: find out at start, where it can be reported.
    """
    connection = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("CREATE TABLE usage_write_probe (x)")
        connection.execute("ROLLBACK")
    finally:
        connection.close()
