"""The processes ``manage.py serve`` runs: started so that they end with it, stopped in order, and the process
that holds a port named when it is not free."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import psutil

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """``preexec_fn`` of a child that must not outlive ``serve``: even a SIGKILL of ``serve`` (which runs no
    clean-up) sends the child SIGTERM. Linux only; elsewhere the clean-up of a stopped ``serve`` has to do."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: Sequence[str], env: dict[str, str], *, new_session: bool = False) -> subprocess.Popen:
    """A child in a process group of its own (a terminal's Ctrl-C reaches only ``serve``, which stops the
    children in order), ending with ``serve``. ``new_session``: also apart from the terminal (a server)."""
    parent = os.getpid()

    def prepare() -> None:
        die_with_parent()
        if os.getppid() != parent:  # serve died before prctl took hold
            os._exit(1)

    return subprocess.Popen(
        list(args),
        env=env,
        preexec_fn=prepare,
        start_new_session=new_session,
        process_group=None if new_session else 0,
    )


def stop(processes: Sequence[subprocess.Popen], timeout: float) -> None:
    """SIGTERM each process, wait up to ``timeout`` seconds for them all, then SIGKILL what is left of their
    process groups (a Celery worker's pool and beat processes with it)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in processes:
        kill_group(process.pid)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def still_running(processes: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of ``processes`` that have not ended within ``timeout`` seconds. A zombie has ended: a process
    that is not ours to reap (a Redis an earlier run left) stays one until its own parent reaps it."""

    def running() -> list[psutil.Process]:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        return alive

    deadline = time.monotonic() + timeout
    while (alive := running()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def describe(pid: int) -> str:
    """'pid 123 (redis-server 127.0.0.1:6399)', or just the pid when the process cannot be read."""
    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline()) or process.name()
    except psutil.Error:
        return f"pid {pid}"
    return f"pid {pid} ({command[:200]})"


def port_holder(port: int) -> int | None:
    """The pid of the process listening on this TCP port, if it can be seen."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            return connection.pid
    return None


def port_taken(host: str, port: int) -> bool:
    """Whether binding this address fails because something listens on it (as the server would bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def taken_message(port: int, what: str, setting: str) -> str:
    """Why a port cannot be used, naming the process that holds it."""
    holder = port_holder(port)
    by = describe(holder) if holder else "another process"
    return f"port {port} ({what}) is taken by {by}: stop it, or set {setting} to a free port"
