"""Run the whole service on one machine: (embedded) Redis, a Celery worker with the sweep, and uvicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from analytics_chat.embedded import start_embedded_redis


class Command(BaseCommand):
    help = "Start the web server (uvicorn) and a Celery worker; with no REDIS_URL, also the embedded Redis."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--worker-concurrency", type=int, default=int(os.environ.get("AC_WORKER_CONCURRENCY", "1"))
        )

    def handle(self, *args, host: str, port: int, worker_concurrency: int, **options):
        env = os.environ.copy()
        if settings.EMBEDDED_REDIS:
            env["REDIS_URL"] = start_embedded_redis()
            self.stdout.write(f"embedded Redis at {env['REDIS_URL']}")
        python = sys.executable
        worker = subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "analytics_chat",
                "worker",
                "--concurrency",
                str(worker_concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--queues",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--beat",
                "--schedule",
                str(settings.DATA_DIR / "celerybeat-schedule"),
            ],
            env=env,
        )
        web = subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                "analytics_chat.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            env=env,
        )
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.stdout.write(
            self.style.SUCCESS(f"\nAnalytics chat is running at http://{shown}:{port}/  (Ctrl-C stops it)\n")
        )

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and worker.poll() is None and web.poll() is None:
                time.sleep(0.5)
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.terminate()
            for process in (web, worker):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        if not stopping:
            self.stderr.write("a child process exited; stopping the service")
            sys.exit(1)
