"""The cache store holds signed JSON: whoever can write to it can neither run code nor forge."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from itsdangerous import Signer
from requests.structures import CaseInsensitiveDict
from requests_cache import CachedResponse
from requests_cache.models import CachedRequest

from clients.cache_store import RAW_BODY_MARK, signed_json
from clients.cached_http import CachedUpstream
from clients.isnotai import IsnotaiClient
from simulators.data import isnotai_integration

ACME = isnotai_integration("acme")
INITECH = isnotai_integration("initech")  # same region as acme: same URL, other key


class RunsCode:
    """Unpickling this opens (creates) a file: proof that reading the store ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def past_range():
    end = datetime.now(UTC).date() - timedelta(days=1)
    return end - timedelta(days=4), end


def usage_calls(sims) -> int:
    return len([c for c in sims.state.calls() if c["path"] == "/v1/usage"])


def client_on(cache_url, sims, policy, clock, secret) -> tuple[CachedUpstream, IsnotaiClient]:
    """Return a new cached session and client, as a new worker process would have them."""
    http = CachedUpstream(cache_url, secret, policy, clock=clock)
    isnotai = IsnotaiClient(http, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "store")
    return http, isnotai


def code_payload(tmp_path: Path) -> tuple[bytes, Path]:
    """Return a pickle that would create a file when read, and that file's path."""
    marker = tmp_path / "ran-code"
    payload = pickle.dumps(RunsCode(marker))
    pickle.loads(payload)  # noqa: S301 - shows the payload does run code when unpickled
    assert marker.exists()
    marker.unlink()
    return payload, marker


class SQLiteStore:
    """The SQLite cache file, written to directly as an attacker with file access would."""

    def __init__(self, cache_url: str) -> None:
        self.path = cache_url.removeprefix("sqlite:///")

    def keys(self) -> list[str]:
        with sqlite3.connect(self.path) as db:
            return [row[0] for row in db.execute("SELECT key FROM responses")]

    def get(self, key: str) -> bytes:
        with sqlite3.connect(self.path) as db:
            return db.execute("SELECT value FROM responses WHERE key=?", (key,)).fetchone()[0]

    def put(self, key: str, value: bytes) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("UPDATE responses SET value=? WHERE key=?", (value, key))


class RedisStore:
    """The Redis cache, written to directly as an attacker with Redis access would."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def keys(self) -> list[str]:
        keys = [k.decode().removeprefix("usage-http:") for k in self.redis.keys("usage-http:*")]
        return [k for k in keys if k != "redirects"]

    def get(self, key: str) -> bytes:
        return self.redis.get(f"usage-http:{key}")

    def put(self, key: str, value: bytes) -> None:
        self.redis.set(f"usage-http:{key}", value, keepttl=True)


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request, cache_url):
    if request.param == "sqlite":
        return cache_url
    return request.getfixturevalue("redis_url")


def store_for(url: str):
    return SQLiteStore(url) if url.startswith("sqlite") else RedisStore(url)


def test_a_pickle_in_the_store_never_runs_and_is_a_miss(
    store_url, sims, policy, clock, test_secret, tmp_path
):
    start, end = past_range()
    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    saved = isnotai.usage(ACME.key, "us", start, end)
    http.close()
    store = store_for(store_url)
    [key] = store.keys()  # the real key the app reads for this request
    payload, marker = code_payload(tmp_path)
    store.put(key, payload)
    sims.state.clear_calls()

    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    try:
        again = isnotai.usage(ACME.key, "us", start, end)
    finally:
        http.close()
    assert not marker.exists()
    assert again.source == "upstream" and again.value == saved.value
    assert usage_calls(sims) == 1


def test_an_unsigned_or_forged_entry_is_a_miss(store_url, sims, policy, clock, test_secret):
    start, end = past_range()
    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    saved = isnotai.usage(ACME.key, "us", start, end)
    http.close()
    store = store_for(store_url)
    [key] = store.keys()
    text, _, _ = bytes(store.get(key)).rpartition(b".")  # the entry without its signature
    head, _, body = text.removeprefix(RAW_BODY_MARK).partition(b"\n")
    json.loads(head)  # described as JSON, not a pickle
    answer = json.loads(body)
    for record in answer["data"]:
        record["value"] += 1_000_000  # a believable answer, with other numbers
    forged = RAW_BODY_MARK + head + b"\n" + json.dumps(answer).encode()
    for tampered in (forged, forged + b".not-the-signature", b"\x00garbage\xff"):
        store.put(key, tampered)
        sims.state.clear_calls()
        http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
        try:
            again = isnotai.usage(ACME.key, "us", start, end)
        finally:
            http.close()
        assert again.source == "upstream" and again.value == saved.value
        assert usage_calls(sims) == 1


def test_an_entry_moved_to_another_tenants_key_is_not_its_answer(
    store_url, sims, policy, clock, test_secret
):
    start, end = past_range()
    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    acme = isnotai.usage(ACME.key, "us", start, end)
    store = store_for(store_url)
    [acme_key] = store.keys()
    initech = isnotai.usage(INITECH.key, "us", start, end)
    http.close()
    assert acme.value != initech.value
    [initech_key] = set(store.keys()) - {acme_key}
    store.put(initech_key, store.get(acme_key))  # validly signed, but for acme's request

    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    try:
        again = isnotai.usage(INITECH.key, "us", start, end)
    finally:
        http.close()
    assert again.source == "upstream" and again.value == initech.value


def test_an_entry_keeps_its_body_byte_for_byte_beside_its_description(test_secret):
    body = b'{\n  "data": [],\n  "note": "a line\\nbreak"\n}\n\xff'  # newlines, not UTF-8
    url = "http://upstream.invalid/v1/usage?x=1"
    response = CachedResponse(
        status_code=200,
        url=url,
        headers=CaseInsensitiveDict({"Content-Type": "application/json", "X-A": "b\nc"}),
        request=CachedRequest(method="GET", url=url),
    )
    response._content = body
    serializer = signed_json(test_secret.encode())

    stored = serializer.dumps(response)
    assert stored.startswith(RAW_BODY_MARK) and body in stored  # not base64, not re-encoded
    again = serializer.loads(stored)
    assert again.content == body
    assert again.headers["X-A"] == "b\nc" and again.url == url and again.status_code == 200


def test_an_entry_in_the_earlier_all_json_form_is_still_read(
    store_url, sims, policy, clock, test_secret
):
    start, end = past_range()
    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    saved = isnotai.usage(ACME.key, "us", start, end)
    signer = Signer(http._signing_key, salt="usage-http-cache", digest_method=hashlib.sha256)
    http.close()
    store = store_for(store_url)
    [key] = store.keys()
    text, _, _ = bytes(store.get(key)).rpartition(b".")
    head, _, body = text.removeprefix(RAW_BODY_MARK).partition(b"\n")
    entry = json.loads(head)
    entry["_content"] = base64.b64encode(body).decode()  # as requests-cache's JSON stores it
    store.put(key, signer.sign(json.dumps(entry).encode()))
    sims.state.clear_calls()

    http, isnotai = client_on(store_url, sims, policy, clock, test_secret)
    try:
        again = isnotai.usage(ACME.key, "us", start, end)
    finally:
        http.close()
    assert again.source == "cache" and again.value == saved.value
    assert usage_calls(sims) == 0
