"""A real running service for end-to-end tests: uvicorn and Celery worker processes on a fresh PostgreSQL
database and this machine's Redis (or, in embedded mode, SQLite and the embedded Redis via ``serve``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("AC_MODELS_DIR", REPO / "models"))
TEST_MODEL = "qwen2.5-coder-0.5b"
PASSWORD = "live-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def create_database(base_url: str) -> str:
    """A new, empty PostgreSQL database next to the one ``base_url`` names; returns its URL."""
    import psycopg

    parts = urlparse(base_url)
    name = f"ac_live_{uuid.uuid4().hex[:10]}"
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


@dataclass
class LiveService:
    base_url: str
    env: dict[str, str]
    data_dir: Path
    username: str = "alice"
    password: str = PASSWORD
    token: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    # --- processes
    def manage(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=check, text=True,
            capture_output=True, input=input,
        )  # fmt: skip

    def shell(self, code: str) -> str:
        """Run Python in the service's Django environment; returns what it printed."""
        result = self.manage("shell", "-c", code, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py shell failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            args, cwd=REPO, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_web(self) -> None:
        port = urlparse(self.base_url).port
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "analytics_chat.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
        )
        wait_until(self._web_up, 60, 0.2, "the web server")

    def _web_up(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/api/schema/", timeout=2).status_code in (200, 401, 403)
        except httpx.HTTPError:
            return False

    def start_worker(
        self, name: str = "worker", concurrency: int = 1, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        env = {**self.env, **(extra_env or {})}
        process = self._spawn(name, [
            sys.executable, "-m", "celery", "-A", "analytics_chat", "worker", "--concurrency", str(concurrency),
            "--pool", "prefork", "--loglevel", "INFO", "--queues", env["AC_QUEUE"], "--hostname", f"{name}@%h",
        ], env)  # fmt: skip
        wait_until(
            lambda: "ready." in self.log(name) or process.poll() is not None, 90, 0.2, f"celery {name}"
        )
        if process.poll() is not None:
            raise RuntimeError(f"worker {name} exited:\n{self.log(name)[-3000:]}")
        return process

    def start_beat(self) -> None:
        """The sweep's scheduler, apart from the workers (as in deployment), so a dead worker cannot stop it."""
        self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "analytics_chat",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.data_dir / "beat-schedule"),
            ],
        )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    # --- HTTP
    def client(self, token: str | None = None, timeout: float = 120) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Token {token or self.token}"}, timeout=timeout
        )

    def generate(self, token: str | None = None, **body) -> httpx.Response:
        with self.client(token) as c:
            return c.post("/api/chat/generate", json=body)

    def stream(self, token: str | None = None, **body) -> Iterator[tuple[str, dict]]:
        """Yield (event, payload) of a streaming generate call."""
        with (
            self.client(token) as c,
            c.stream("POST", "/api/chat/generate", json={**body, "streaming": True}) as r,
        ):
            r.raise_for_status()
            yield from parse_sse(r.iter_lines())

    def create_user(self, username: str) -> str:
        """A user with a token; returns the token."""
        return (
            self.shell(
                "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token;"
                f"u,_=get_user_model().objects.get_or_create(username={username!r}); u.set_password({PASSWORD!r}); u.save();"
                "print(Token.objects.get_or_create(user=u)[0].key)"
            )
            .strip()
            .splitlines()[-1]
        )

    def message(self, message_uuid: str, token: str | None = None) -> dict:
        with self.client(token) as c:
            response = c.get(f"/api/chat/messages/{message_uuid}")
            response.raise_for_status()
            return response.json()

    def started_at(self, message_uuid: str) -> float | None:
        """When a worker claimed the message (``lifecycle.claim``, before it loads any model), as a
        ``time.time()`` value; None while it waits in the queue. Read from the database: the API's
        payload does not carry it."""
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            row = conn.execute(
                "SELECT started_at FROM analytics_chat_chatmessage WHERE uuid = %s", (message_uuid,)
            ).fetchone()
        return row[0].timestamp() if row and row[0] else None

    def wait_terminal(self, message_uuid: str, timeout: float = 120, token: str | None = None) -> dict:
        def done():
            body = self.message(message_uuid, token)
            return body if body["status"] in ("succeeded", "failed", "aborted") else None

        return wait_until(done, timeout, 0.1, f"message {message_uuid} to end")


@dataclass
class EmbeddedServe:
    """``manage.py serve`` as ``make run`` starts it with no configuration: SQLite and the embedded Redis in
    ``data_dir``, the Redis on a port of its own. It runs in a session of its own, standing for the terminal:
    ``signal`` sends to its process group, as a terminal's Ctrl-C does."""

    data_dir: Path
    redis_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    queue: str = field(default_factory=lambda: f"embedded-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
        }
        env.pop("PYTEST_CURRENT_TEST", None)
        return {
            **env,
            "AC_DATA_DIR": str(self.data_dir),
            "AC_EMBEDDED_REDIS_PORT": str(self.redis_port),
            "AC_QUEUE": self.queue,
            "DJANGO_SECURE_COOKIES": "0",
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def manage(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    def start(self, timeout: float = 90) -> EmbeddedServe:
        """Start ``serve`` and wait until the web server answers and the worker is ready."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                # INFO: the worker's "ready." line is what tells this harness the worker is up
                [sys.executable, "manage.py", "serve", "--port", str(self.port), "--log-level", "INFO"],
                cwd=REPO, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until(self._ready, timeout, 0.3, "manage.py serve")
        except TimeoutError:
            self.kill()
            raise
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"manage.py serve exited:\n{self.log()[-3000:]}")
        try:
            return (
                httpx.get(f"{self.base_url}/api/schema/", timeout=2).status_code == 200
                and "ready." in self.log()
            )
        except httpx.HTTPError:
            return False

    def processes(self) -> list[psutil.Process]:
        """``serve`` and every process under it."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def signal(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """Clean-up after a failed test: everything ``serve`` started, whatever state it is in."""
        if self.process is None:
            return
        try:
            left = self.processes()
        except psutil.NoSuchProcess:
            left = []
        for process in left:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.process.wait(10)


def embedded_folder(template: tuple[Path, str], into: Path) -> Path:
    """A fresh copy of a bootstrapped data folder (the ``embedded_template`` fixture): one ``serve`` per
    folder."""
    folder = into / "data"
    shutil.copytree(template[0], folder)
    return folder


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    event, data = None, []
    for line in lines:
        if line == "":
            if event is not None:
                yield event, json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def stream_until(service: LiveService, body: dict, until, holder: dict, token: str | None = None) -> None:
    """Stream a generate call in this thread until ``until(event, payload)``; then drop the connection.

    ``holder`` gets the events, the message's ``uuid``, and when it was dropped: ``dropped_at``
    (``time.monotonic()``) and ``dropped_wall`` (``time.time()``, to compare with database timestamps).
    """
    with (
        service.client(token, timeout=300) as c,
        c.stream("POST", "/api/chat/generate", json={**body, "streaming": True}) as response,
    ):
        for name, payload in parse_sse(response.iter_lines()):
            holder.setdefault("events", []).append((name, payload))
            if name == "start":
                holder["uuid"] = payload["response_uuid"]
            if until(name, payload):
                holder["dropped_at"], holder["dropped_wall"] = time.monotonic(), time.time()
                return


def ends(name: str, _payload: dict) -> bool:
    return name in ("done", "error")


def stream_in_background(
    service: LiveService, body: dict, until=ends, token: str | None = None
) -> tuple[threading.Thread, dict]:
    """``stream_until`` in a thread of its own; returns once the message exists (its ``uuid`` is known)."""
    holder: dict = {}
    thread = threading.Thread(
        target=stream_until, args=(service, body, until, holder), kwargs={"token": token}, daemon=True
    )
    thread.start()
    wait_until(lambda: "uuid" in holder or not thread.is_alive(), 60, 0.02, "the answer to start")
    assert "uuid" in holder, f"the request never started: {holder}"
    return thread, holder


def written(holder: dict) -> str:
    """The text the model has streamed so far."""
    return "".join(p["text"] for name, p in holder.get("events", []) if name == "delta")


def queue_behind(service: LiveService, body: dict, token: str | None = None) -> tuple[threading.Thread, dict]:
    """A question sent while another one runs: with one worker process it waits in the queue, so the
    moment a worker claims it tells how long the one before held the worker."""
    thread, holder = stream_in_background(service, body, token=token)
    assert service.message(holder["uuid"], token)["status"] == "pending", "nothing held the worker"
    return thread, holder


def seconds_until_claimed(
    service: LiveService, message_uuid: str, since: float, timeout: float = 60
) -> float:
    """Seconds from ``since`` (a ``time.time()`` value) until a worker claimed the message."""
    claimed = wait_until(lambda: service.started_at(message_uuid), timeout, 0.02, "a worker to claim it")
    return claimed - since


# The product's target (issue 15): after an abort the worker takes the next job within a second.
NEXT_JOB_WITHIN = 1.0


def assert_next_job_claimed_quickly(
    service: LiveService, aborted_uuid: str, follow: dict, aborted_at: float, what: str
) -> float:
    """The question queued behind the aborted one was claimed within ``NEXT_JOB_WITHIN`` of the API
    taking the abort, and answered; returns the seconds from the abort request (``aborted_at``, a
    ``time.time()`` value) to the claim.

    The API stamps an aborted message's finished_at when it takes the abort: the wait splits into the
    web server's part (on a loaded machine, seconds: it runs beside the query or the model) and the
    worker's, which is what this bounds."""
    waited = seconds_until_claimed(service, follow["uuid"], aborted_at)
    handled = service.message(aborted_uuid)["timestamp"] - aborted_at
    print(
        f"abort {what}: the next job was claimed {waited:.3f} s after the abort request "
        f"(the API took it after {handled:.3f} s, the worker {waited - handled:.3f} s after that)"
    )
    assert waited >= 0, "the next job started before the abort: it was not queued behind"
    assert waited - handled < NEXT_JOB_WITHIN, (
        f"the worker took the next job {waited - handled:.2f} s after the abort {what} "
        f"({waited:.2f} s after it was asked for)"
    )
    assert service.wait_terminal(follow["uuid"], 60)["status"] == "succeeded"
    return waited


def scripted_model_code(name: str, script: dict, *, default: bool = False) -> str:
    """Python for ``LiveService.shell`` registering a scripted stand-in model."""
    return (
        "import json, tempfile, pathlib; from analytics_chat.models import LLMModel;"
        f"p=pathlib.Path(tempfile.mkdtemp())/'script.json'; p.write_text(json.dumps({script!r}));"
        f"LLMModel.objects.update_or_create(name={name!r}, defaults=dict(backend='scripted', path=str(p), "
        f"context_size=4096, is_default={default!r}))"
    )


def start_live_service(
    *,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    with_real_model: bool = True,
) -> LiveService:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AC_DATA_DIR": str(data_dir),
        "AC_MODELS_DIR": str(MODELS_DIR),
        "AC_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "AC_DEFAULT_MODEL": TEST_MODEL,
        "AC_STALE_AFTER_SECONDS": "5",
        "AC_SWEEP_SECONDS": "1",
        "AC_GENERATE_RATE": "10000/min",
        # Tests time their own questions; a background warm-up would compete with them for the model.
        "AC_WARM_UP": "0",
        # With no warm-up the first question reads a cold 2,000-token prompt; on a slow machine that alone
        # took the 0.5B model 30 s, the default budget. Tests about the budget ask for their own max_seconds.
        "AC_MAX_SECONDS": "120",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SETTINGS_MODULE": "analytics_chat.settings",
        **(extra_env or {}),
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    service = LiveService(base_url=f"http://127.0.0.1:{free_port()}", env=env, data_dir=data_dir)
    service.manage("migrate", "--noinput")
    service.manage("load_demo")
    if with_real_model:
        service.manage("fetch_model", TEST_MODEL)
    service.token = service.create_user(service.username)
    service.start_web()
    service.start_beat()
    return service


@contextmanager
def fresh_live_service(
    base_database_url: str, redis_url: str, *, prefix: str = "ac-live-", **options
) -> Iterator[LiveService]:
    """``start_live_service`` on a database and a data folder of its own, both removed afterwards."""
    database_url = create_database(base_database_url)
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    service = None
    try:
        service = start_live_service(
            database_url=database_url, redis_url=redis_url, data_dir=data_dir, **options
        )
        yield service
    finally:
        if service is not None:
            service.stop_all()
        drop_database(database_url)
        shutil.rmtree(data_dir, ignore_errors=True)
