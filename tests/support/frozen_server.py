"""The real web server with its clock set to a chosen instant, for browser tests that cross a
midnight without waiting for one.

Run as ``python -m tests.support.frozen_server HOST:PORT`` with ``SERVIFLOW_FROZEN_AT`` set to an
ISO instant with an offset: Django's runserver (no reload) starts inside
``time_machine.travel(instant, tick=True)``, so the server's clock begins there and runs on in
real time. Tests start it with ``start`` and restart it with a later instant; sessions live in
the database, so a browser stays signed in across the restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.support import processes

FROZEN_AT = "SERVIFLOW_FROZEN_AT"


def start(port: int, env: dict[str, str], log: Path, instant: datetime) -> subprocess.Popen[bytes]:
    """The frozen server on ``127.0.0.1:port``, its clock at ``instant``; returns once it answers."""
    if instant.tzinfo is None:
        raise ValueError("the instant needs a time zone")
    with log.open("ab") as out:
        out.write(f"\n--- frozen server at {instant.isoformat()} ---\n".encode())
    command = [sys.executable, "-m", "tests.support.frozen_server", f"127.0.0.1:{port}"]
    return processes.start_web(port, {**env, FROZEN_AT: instant.isoformat()}, log, command, append=True)


def main(address: str) -> None:
    import time_machine
    from django.core.management import execute_from_command_line

    instant = datetime.fromisoformat(os.environ[FROZEN_AT])
    if instant.tzinfo is None:
        sys.exit(f"{FROZEN_AT} needs an offset, e.g. 2026-11-22T23:30:00+05:30")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")
    with time_machine.travel(instant, tick=True):
        execute_from_command_line(["manage.py", "runserver", "--noreload", address])


if __name__ == "__main__":
    main(sys.argv[1])
