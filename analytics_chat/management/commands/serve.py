"""Run the whole service on one machine: (embedded) Redis, a Celery worker with beat and the sweep, and
uvicorn. Ctrl-C, SIGTERM or SIGHUP stops everything it started, the embedded Redis last."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics_chat import processes
from analytics_chat.embedded import EmbeddedRedisError, start_embedded_redis, stop_embedded_redis

# How long the web server and the worker get to stop by themselves (the worker finishes the answer it is
# writing) before they are killed; a second Ctrl-C kills them at once.
STOP_SECONDS = 8.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def only_run(data_dir: Path) -> Iterator[None]:
    """One ``serve`` per data folder: they would share its SQLite database and embedded Redis. The lock
    dies with its process, so the pid file a killed run leaves behind does not stop the next one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "serve.pid"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip()
        handle.close()
        running = processes.describe(int(other)) if other.isdigit() else "another process"
        raise CommandError(
            f"manage.py serve is already running on {data_dir} ({running}); stop it first"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


class Command(BaseCommand):
    help = "Start the web server (uvicorn) and a Celery worker; with no REDIS_URL, also the embedded Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--worker-concurrency", type=int, default=int(os.environ.get("AC_WORKER_CONCURRENCY", "1"))
        )
        parser.add_argument(
            "--log-level",
            default=os.environ.get("AC_LOG_LEVEL", "WARNING"),
            help="Level of the web server's and the worker's logs (default WARNING; INFO shows every task).",
        )

    def handle(
        self, *args, host: str, port: int, worker_concurrency: int, log_level: str = "WARNING", **options
    ):
        self.log_level = log_level.upper()
        stopping: list[int] = []  # the signals received
        children: list[subprocess.Popen] = []

        def stop(signum, _frame):
            if stopping:  # a second Ctrl-C: no more waiting
                for child in children:
                    processes.kill_group(child.pid)
            stopping.append(signum)

        for signum in STOP_SIGNALS:
            signal.signal(signum, stop)
        with only_run(settings.DATA_DIR):
            if processes.port_taken(host, port):
                raise CommandError(processes.taken_message(port, "the web server", "PORT"))
            server = None
            try:
                env = os.environ.copy()
                if settings.EMBEDDED_REDIS:
                    try:
                        server = start_embedded_redis()
                    except EmbeddedRedisError as error:
                        raise CommandError(str(error)) from error
                    env["REDIS_URL"] = server.url
                    self.stdout.write(server.note)
                if not stopping:
                    children += self._start(env, host, port, worker_concurrency)
                while not stopping and all(child.poll() is None for child in children):
                    time.sleep(0.2)
            finally:
                self.stdout.write("stopping the web server and the worker...")
                processes.stop(children, STOP_SECONDS)  # at the same time: the web server first takes no more
                if server is not None:
                    stop_embedded_redis(server)
                    if server.owned:
                        self.stdout.write("stopped the embedded Redis")
        if not stopping:
            self.stderr.write("a child process exited; stopped the service")
            sys.exit(1)

    def _start(self, env: dict[str, str], host: str, port: int, concurrency: int) -> list[subprocess.Popen]:
        python = sys.executable
        worker = processes.spawn(
            [
                python, "-m", "celery", "-A", "analytics_chat", "worker",
                "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", self.log_level,
                "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
                "--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"),
                # One worker on one machine: nothing to sync with (a second sooner at start).
                "--without-mingle", "--without-gossip",
            ],
            env,
        )  # fmt: skip
        web = processes.spawn(
            [
                python, "-m", "uvicorn", "analytics_chat.asgi:application", "--host", host, "--port", str(port),
                "--no-access-log", "--log-level", self.log_level.lower(), "--timeout-graceful-shutdown", "5",
            ],
            env,
        )  # fmt: skip
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.stdout.write(
            self.style.SUCCESS(f"\nAnalytics chat is running at http://{shown}:{port}/  (Ctrl-C stops it)\n")
        )
        return [web, worker]
