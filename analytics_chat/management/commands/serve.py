"""Run the whole service on one machine: (embedded) Redis, a Celery worker with the sweep, and uvicorn.

It prints what a person needs: the URL and how to sign in, once the page answers and a worker is ready.
The processes log warnings and errors only, unless ``--log-level`` (or ``AC_LOG_LEVEL``) asks for more.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from analytics_chat.embedded import start_embedded_redis

READY_TIMEOUT_SECONDS = 120


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

    def handle(self, *args, host: str, port: int, worker_concurrency: int, log_level: str, **options):
        env = os.environ.copy()
        env["AC_LOG_LEVEL"] = log_level.upper()
        logging.getLogger().setLevel(log_level.upper())  # this process's own requests to itself, too
        if settings.EMBEDDED_REDIS:
            env["REDIS_URL"] = start_embedded_redis()
        quiet = [] if log_level.upper() in ("DEBUG", "INFO") else ["--quiet"]  # no start-up banner
        python = sys.executable
        worker = subprocess.Popen(
            [
                python, "-m", "celery", "-A", "analytics_chat", *quiet, "worker",
                "--concurrency", str(worker_concurrency), "--pool", "prefork",
                "--loglevel", log_level.upper(), "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
                "--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"),
            ],
            env=env,
        )  # fmt: skip
        web = subprocess.Popen(
            [
                python, "-m", "uvicorn", "analytics_chat.asgi:application", "--host", host, "--port", str(port),
                "--no-access-log", "--log-level", log_level.lower(), "--timeout-graceful-shutdown", "5",
            ],
            env=env,
        )  # fmt: skip

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if self._wait_until_ready(port, [web, worker], lambda: stopping):
                shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
                self.stdout.write(
                    self.style.SUCCESS(f"\nAnalytics chat is running at http://{shown}:{port}/")
                )
                self.stdout.write(self._login_hint() + "(Ctrl-C stops it)\n")
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

    def _wait_until_ready(self, port: int, processes: list[subprocess.Popen], stopping) -> bool:
        """True once the page answers and a worker replies to a ping; False if a process died or time ran out."""
        from analytics_chat.celery import app

        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        web_up = worker_up = False
        while time.monotonic() < deadline and not stopping():
            if any(process.poll() is not None for process in processes):
                return False
            if not web_up:
                try:
                    web_up = (
                        httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).status_code == 200
                    )
                except httpx.HTTPError:
                    pass
            if not worker_up:
                try:
                    worker_up = bool(app.control.ping(timeout=1.0))
                except Exception:  # the broker may still be starting
                    pass
            if web_up and worker_up:
                return True
            time.sleep(0.5)
        self.stderr.write(f"the service did not become ready within {READY_TIMEOUT_SECONDS} s")
        return False

    def _login_hint(self) -> str:
        """How the admin that ``bootstrap`` created signs in (its password is kept in the data folder)."""
        admin = get_user_model().objects.filter(is_superuser=True).order_by("date_joined").first()
        password_file = settings.DATA_DIR / "admin_password"
        if admin is None:
            return "Create a user with `python manage.py createsuperuser` to sign in.\n"
        lines = [f"Sign in as:  {admin.get_username()}"]
        if password_file.exists():
            lines.append(f"Password:    {password_file.read_text().strip()}")
        token = Token.objects.filter(user=admin).first()
        if token is not None:
            lines.append(f"API token:   {token.key}")
        return "\n".join(lines) + "\n"
