"""Real processes for tests: the web server and a Celery worker, on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def test_database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(**extra: str) -> dict[str, str]:
    env = {**os.environ}
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="serviflow.settings",
    )
    env.update(extra)  # a test's own Redis or database, say
    return env


def _started(
    command: list[str], env: dict[str, str], log: Path, ready: Any, what: str, *, append: bool = False
) -> subprocess.Popen[bytes]:
    """``command`` started with its output in ``log``; returned once ``ready()`` holds (within a
    minute), else killed with its log in the error."""
    with log.open("ab" if append else "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if ready():
                return proc
        except OSError:
            if proc.poll() is not None:
                break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{what} did not start:\n{log.read_text()}")


def start_web(
    port: int, env: dict[str, str], log: Path, command: list[str] | None = None, *, append: bool = False
) -> subprocess.Popen[bytes]:
    """The web server (runserver, no reload, or ``command`` serving ``127.0.0.1:port``);
    returns once ``/healthz`` answers."""

    def healthy() -> bool:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)

    default = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return _started(command or default, env, log, healthy, "web server", append=append)


def start_mail_server(
    port: int, env: dict[str, str], log: Path, *, lmtp: bool = False
) -> subprocess.Popen[bytes]:
    """The SMTP listener (``manage.py mail_server``; LMTP with ``lmtp``) on ``127.0.0.1:port``;
    returns once it greets."""

    def greets() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"220")

    command = [sys.executable, "manage.py", "mail_server", "--host", "127.0.0.1", "--port", str(port)]
    return _started([*command, "--lmtp"] if lmtp else command, env, log, greets, "mail server")


def start_worker(queue: str, env: dict[str, str], log: Path, *, prefork: int = 0) -> subprocess.Popen[bytes]:
    """A Celery worker on ``queue``: one process (``--pool solo``), or ``prefork`` child
    processes as deployed."""
    pool = ["--pool", "prefork", "--concurrency", str(prefork)] if prefork else ["--pool", "solo"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "serviflow",
                "worker",
                *pool,
                "-Q",
                queue,
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_beat(
    env: dict[str, str], log: Path, schedule_file: Path, *, scheduler: str = ""
) -> subprocess.Popen[bytes]:
    """Celery beat, sending the periodic tasks (the SLA sweep) to the queue in ``env`` while it holds
    the beat lock (``serviflow.beat``). Start it twice, each with its own log and ``schedule_file``,
    for two beats competing for the lock. ``scheduler``: another one than settings' (Celery's own
    ``celery.beat:PersistentScheduler``: no lock, to show what the lock prevents)."""
    command = [str(VENV_BIN / "celery"), "-A", "serviflow", "beat", "-l", "INFO", "-s", str(schedule_file)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, *(["--scheduler", scheduler] if scheduler else [])],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(predicate: Any, timeout: float = 60) -> None:
    """Poll until another process has done its part (the worker, the web server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting for another process")
