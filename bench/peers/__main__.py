"""ServiFlow beside its peer, django-helpdesk: the hot paths, same machine, same client.

django-helpdesk (PEER_PACKAGE, from the package index) is installed into a virtual environment
of its own under ``./var/bench-peers/`` (made once, again when the pinned versions change), with
settings written for this benchmark (``peer_settings.py``). Both apps run under gunicorn (the
same version: WORKERS workers, gthread with THREADS threads, DEBUG off) against the same
PostgreSQL server, each in a database of its own (ServiFlow's ``<name>_bench``, the peer's
``<name>_bench_peer``, both dropped at the end, also on failure). Authentication is cheap on both:
ServiFlow's Bearer token, DRF's TokenAuthentication for the peer (no password hashing).

One load client (this process: ``http.client`` over keep-alive connections, one per thread,
the same code for both apps) measures, side by side with the ratios:

- the customer ticket list (first page, default order, 50 rows) of ServiFlow
  (``GET /api/v1/customers/peer/tickets/`` as an agent) and the unified queue, all statuses
  (``GET /api/v1/tickets/?status=open,pending,resolved,closed``), against django-helpdesk's
  ticket list (``GET /api/tickets/?page_size=50`` as a staff user), at 1,000 and 10,000 tickets
  (one customer; one queue), filled with ``bulk_create`` from the models on both sides;
- ticket creation through the API at concurrency 1, 4 and 8: median latency and creations per
  second (ServiFlow: a customer user of another customer, so the lists' customer stays at its
  size; the peer: the staff user, in its one queue).

Targets: create median <= 8 ms at concurrency 1 and >= 2 x the peer's creations/s at 4; the list
and the queue: median at 10,000 <= 1.2 x the median at 1,000, and >= 100 x faster than the
peer's list at 10,000.

Run: ``python3 dev.py bench peers``; ``--smoke`` for tiny sizes (50 and 200 tickets, a few
requests: it runs end to end, installing the peer if needed; its figures mean nothing).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPConnection, HTTPException
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent  # bench/peers: run as ``python bench/peers``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import (  # noqa: E402
    free_port,
    in_bench_database,
    log,
    p95,
    print_verdict,
    purge_queue,
    recreate_database,
    served,
    smoke,
    with_database,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
SIZES = (50, 200) if SMOKE else (1_000, 10_000)
LIST_REQUESTS, WARMUPS = (10, 2) if SMOKE else (200, 10)
PEER_LIST_BUDGET_S = 5.0 if SMOKE else 40.0  # the peer's list: as many requests as fit, at least 3
CREATES = {1: 10, 4: 16, 8: 16} if SMOKE else {1: 300, 4: 600, 8: 800}
PAGE = 50
WORKERS, THREADS = 2, 4
JOB = "bench.peers"
PASSWORD = "peers-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database
CELERY_QUEUE = f"bench-peers-{os.getpid()}"  # creations enqueue notifications; removed at the end

PEER_PACKAGE = "django-helpdesk==2.6.1"
# The same server and driver versions as ServiFlow's environment, so that only the apps differ.
PEER_REQUIREMENTS = (
    PEER_PACKAGE,
    f"gunicorn=={version('gunicorn')}",
    f"psycopg[binary]=={version('psycopg')}",
)
PEER_VENV = ROOT / "var" / "bench-peers"

SF_LIST = "/api/v1/customers/peer/tickets/"
SF_QUEUE = "/api/v1/tickets/?status=open,pending,resolved,closed"
PEER_LIST = f"/api/tickets/?page_size={PAGE}"

TARGET_CREATE_MS = 8.0
TARGET_CREATE_RATIO = 2.0  # ServiFlow's creations/s / the peer's at concurrency 4
TARGET_GROWTH = 1.2  # median at the largest size / at the smallest
TARGET_SPEEDUP = 100.0  # the peer's list median / ServiFlow's at the largest size


# --- the load client: the same for both apps -------------------------------------------------


class Session:
    """One keep-alive connection to one app, as one caller (``Host`` and ``Authorization``)."""

    def __init__(self, port: int, host: str, authorization: str) -> None:
        self.port, self.host, self.authorization = port, host, authorization
        self.conn: HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[float, int, bytes]:
        """Seconds, status and body of one request (a new connection only when the server
        closed the last one)."""
        if self.conn is None:
            self.conn = HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {"Host": self.host, "Authorization": self.authorization, "Accept": "application/json"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, HTTPException):
            self.close()
            raise
        took = time.perf_counter() - start
        if response.will_close:
            self.close()
        return took, response.status, payload

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class App:
    """How the client reaches one app: its port and host, a reader's and a creator's
    ``Authorization``, and what one creation posts."""

    name: str
    port: int
    host: str
    reader: str
    creator: str
    new_ticket: Callable[[int], dict[str, Any]]
    create_path: str

    def session(self, *, creating: bool = False) -> Session:
        return Session(self.port, self.host, self.creator if creating else self.reader)


def time_gets(session: Session, path: str, *, requests: int, budget_s: float | None = None) -> list[float]:
    """``requests`` timed GETs of the first page after WARMUPS (or fewer: as many as fit in
    ``budget_s``, at least 3, after one warm-up); each must be a 200 with a full page."""
    samples: list[float] = []
    warmups = 1 if budget_s is not None else WARMUPS
    started = time.perf_counter()
    for i in range(warmups + requests):
        took, status, body = session.request("GET", path)
        rows = json.loads(body).get("results", []) if status == 200 else []
        if status != 200 or len(rows) != PAGE:
            raise RuntimeError(f"GET {path} answered {status} with {len(rows)} rows: {body[:300]!r}")
        if i >= warmups:
            samples.append(took)
        spent = time.perf_counter() - started
        if budget_s is not None and len(samples) >= 3 and spent > budget_s:
            break
    return samples


@dataclass
class Creations:
    concurrency: int
    per_second: float
    latencies: list[float]
    failures: int  # answers other than 201


def time_creates(app: App, concurrency: int, total: int) -> Creations:
    """``total`` creations from ``concurrency`` threads, each on its own keep-alive connection
    (one untimed creation each first); the rate is over the wall time of the timed ones."""
    sessions = [app.session(creating=True) for _ in range(concurrency)]
    for n, session in enumerate(sessions):
        session.request("POST", app.create_path, app.new_ticket(-1 - n))
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)

    def client(i: int) -> None:
        mine: list[float] = []
        bad = 0
        ready.wait()
        for n in range(total // concurrency):
            took, status, _ = sessions[i].request("POST", app.create_path, app.new_ticket(i * 100_000 + n))
            mine.append(took)
            bad += status != 201
        with lock:
            latencies.extend(mine)
            failures.append(bad)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    for session in sessions:
        session.close()
    return Creations(concurrency, len(latencies) / wall, latencies, sum(failures))


# --- the servers -------------------------------------------------------------------------------


@contextmanager
def gunicorn(name: str, gunicorn_bin: Path, app: str, *, env: dict[str, str], cwd: Path) -> Iterator[int]:
    """gunicorn (WORKERS gthread workers of THREADS threads, keep-alive) serving ``app``; yields
    its port once it answers."""
    port = free_port()
    command = [str(gunicorn_bin), app, "--workers", str(WORKERS), "--worker-class", "gthread"]
    command += ["--threads", str(THREADS), "--keep-alive", "600", "--bind", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning"]

    def answers() -> bool:
        conn = HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/", headers={"Host": "localhost"})
            conn.getresponse().read()
            return True
        finally:
            conn.close()

    with served(command, name=f"peers-{name}", env=env, cwd=cwd, ready=answers):
        yield port


def purge_broker() -> None:
    """Drop the notification tasks ServiFlow's creations queued (nothing consumes CELERY_QUEUE)."""
    purge_queue(CELERY_QUEUE)


# --- the peer's side ---------------------------------------------------------------------------


def peer_environment() -> Path:
    """The peer's virtual environment (its bin/ folder), installed when missing or outdated."""
    bin_dir = PEER_VENV / "bin"
    stamp = PEER_VENV / ".bench-peers-installed"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if stamp.is_file() and stamp.read_text() == wanted and (bin_dir / "gunicorn").is_file():
        return bin_dir
    log(f"==> installing {', '.join(PEER_REQUIREMENTS)} into {PEER_VENV.relative_to(ROOT)}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, *PEER_REQUIREMENTS], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"could not install {PEER_PACKAGE}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    stamp.write_text(wanted)
    return bin_dir


def peer_env(database_url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "PGPASSWORD", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return env | {
        "PEER_DATABASE_URL": database_url,
        "PEER_SECRET_KEY": "bench-peers-" + os.urandom(16).hex(),
        "DJANGO_SETTINGS_MODULE": "peer_settings",
        "PYTHONPATH": str(HERE),
    }


def peer_tool(bin_dir: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``peer_tool.py`` in the peer's environment; its answer (the JSON last line)."""
    done = subprocess.run(
        [str(bin_dir / "python"), str(HERE / "peer_tool.py"), *args],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"peer_tool {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# --- ServiFlow's side --------------------------------------------------------------------------


@dataclass
class Cast:
    agent_token: str  # an agent with every customer: lists and queue
    creator_token: str  # a user of the second customer: creations
    customer: Any  # tenants.Customer whose tickets are listed
    requester: Any  # people.CustomerUser of that customer
    tickets: int = 0
    agent: Any = field(default=None)


def setup_serviflow() -> Cast:
    from accounts.services import AgentFields, agent_create, token_issue
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision

    everyone = AgentFields(email="peers@msp.bench", name="Peers Agent", all_customers=True)
    agent = agent_create(fields=everyone, password=PASSWORD)
    profiles = []
    for slug in ("peer", "peer-create"):
        customer = customer_provision(name=f"Peers bench {slug}", slug=slug)
        with customer_schema(customer):
            fields = CustomerUserFields(email=f"user@{slug}.bench", name=f"User of {slug}")
            profiles.append(
                (customer, customer_user_create(customer=customer, fields=fields, password=PASSWORD))
            )
    (customer, requester), (_, creator) = profiles
    return Cast(
        agent_token=token_issue(user=agent, name="bench")[1],
        creator_token=token_issue(user=creator.user, name="bench")[1],
        customer=customer,
        requester=requester,
        agent=agent,
    )


def fill_serviflow(cast: Cast, size: int) -> None:
    """The listed customer's tickets up to ``size``: model instances (every column not set here
    takes the model's default), one bulk_create, the counter moved on as ``ticket_create`` does,
    their index rows by the app's ``index_write``; then ANALYZE."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tenants.schema import customer_schema
    from tickets.index.services import index_write
    from tickets.models import Priority, Status, Ticket, TicketNumber

    rng = random.Random(f"bench-peers-{cast.tickets}")  # noqa: S311 - fixed seed, not security
    now = timezone.now()
    tickets = []
    for n in range(cast.tickets + 1, size + 1):
        created = now - rng.random() * timedelta(days=365)
        status = rng.choice(Status.values)
        priority = rng.choice(Priority.values)
        tickets.append(
            Ticket(
                number=n,
                subject=f"Bench ticket {n}",
                description="Printer on floor 3 does not print.",
                status=status,
                priority=priority,
                requester=cast.requester,
                requester_user=cast.requester.user,
                assignee=cast.agent if n % 3 else None,
                created_by_job=JOB,
                closed_at=now if status == Status.CLOSED else None,
                created_at=created,
                updated_at=created + rng.random() * (now - created),
                resolution_due=created + timedelta(days=3),
            )
        )
    with transaction.atomic(), customer_schema(cast.customer):
        made = Ticket.objects.bulk_create(tickets, batch_size=1000)
        TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": size})
        index_write(customer=cast.customer, tickets=made)
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{cast.customer.schema_name}".tickets_ticket, ticket_index')
    cast.tickets = size


def serviflow_env(database_url: str) -> dict[str, str]:
    from django.conf import settings

    return os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench-peers-" + os.urandom(16).hex(),
        "EMAIL_URL": "locmem:",
        "SECURE_SSL_REDIRECT": "0",
    }


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Lists:
    tickets: int
    sf_list: list[float]
    sf_queue: list[float]
    peer_list: list[float]


def med(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return p95(samples) * 1000 if len(samples) > 1 else med(samples)


def measure(
    serviflow: App, peer: App, fill: Callable[[int], None]
) -> tuple[list[Lists], list[tuple[Creations, Creations]]]:
    lists: list[Lists] = []
    reader, peer_reader = serviflow.session(), peer.session()
    for size in SIZES:
        fill(size)
        sf_list = time_gets(reader, SF_LIST, requests=LIST_REQUESTS)
        sf_queue = time_gets(reader, SF_QUEUE, requests=LIST_REQUESTS)
        peer_list = time_gets(peer_reader, PEER_LIST, requests=LIST_REQUESTS, budget_s=PEER_LIST_BUDGET_S)
        log(
            f"    {size:,} tickets: list {med(sf_list):.1f} ms, queue {med(sf_queue):.1f} ms;"
            f" django-helpdesk's list {med(peer_list):.1f} ms ({len(peer_list)} requests)"
        )
        lists.append(Lists(size, sf_list, sf_queue, peer_list))
    reader.close()
    peer_reader.close()
    creations = []
    for concurrency, total in CREATES.items():
        ours, theirs = time_creates(serviflow, concurrency, total), time_creates(peer, concurrency, total)
        log(
            f"    creations at {concurrency}: {ours.per_second:.0f}/s against {theirs.per_second:.0f}/s"
            f" ({ours.failures} and {theirs.failures} not 201)"
        )
        creations.append((ours, theirs))
    return lists, creations


def run(database_url: str) -> tuple[list[Lists], list[tuple[Creations, Creations]]]:
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    from audit.context import job_context

    bin_dir = peer_environment()
    peer_name = unquote(urlsplit(database_url).path.lstrip("/")) + "_peer"  # <name>_bench_peer
    peer_url = with_database(database_url, peer_name)
    admin_url = with_database(database_url, "postgres")
    recreate_database(admin_url, peer_name, create=True)
    try:
        log(f"==> {PEER_PACKAGE}: migrate {peer_name}, a staff user with a token, one queue")
        penv = peer_env(peer_url)
        peer_cast = peer_tool(bin_dir, penv, "setup")
        log("==> ServiFlow: sync_platform, an agent, two customers with a user each")
        call_command("sync_platform", verbosity=0)
        settings.DEBUG = False
        fast_hasher = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
        with job_context(JOB), fast_hasher:
            cast = setup_serviflow()

            def fill(size: int) -> None:
                started = time.perf_counter()
                fill_serviflow(cast, size)
                filled = peer_tool(bin_dir, penv, "fill", str(size))["tickets"]
                took = time.perf_counter() - started
                log(f"==> filled both to {size:,} tickets ({filled:,} in the peer) in {took:.0f} s")

            with (
                gunicorn(
                    "serviflow",
                    Path(sys.executable).parent / "gunicorn",
                    "serviflow.wsgi:application",
                    env=serviflow_env(database_url),
                    cwd=ROOT,
                ) as sf_port,
                gunicorn(
                    "helpdesk",
                    bin_dir / "gunicorn",
                    "django.core.wsgi:get_wsgi_application()",
                    env=penv,
                    cwd=HERE,
                ) as peer_port,
            ):
                serviflow = App(
                    "ServiFlow",
                    sf_port,
                    "localhost",
                    f"Bearer {cast.agent_token}",
                    f"Bearer {cast.creator_token}",
                    lambda n: {"subject": f"Printer {n}", "description": "Does not print.", "priority": "P3"},
                    "/api/v1/customers/peer-create/tickets/",
                )
                peer = App(
                    "django-helpdesk",
                    peer_port,
                    "localhost",
                    f"Token {peer_cast['token']}",
                    f"Token {peer_cast['token']}",
                    lambda n: {
                        "queue": peer_cast["queue"],
                        "title": f"Printer {n}",
                        "description": "Does not print.",
                        "submitter_email": "user@peer.bench",
                        "priority": 3,
                    },
                    "/api/tickets/",
                )
                try:
                    return measure(serviflow, peer, fill)
                finally:
                    purge_broker()
    finally:
        recreate_database(admin_url, peer_name, create=False)


def table(title: list[str], header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    log("\n" + "\n".join(title))
    log(line)
    log("-" * len(line))
    for row in rows:
        log("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def report(results: tuple[list[Lists], list[tuple[Creations, Creations]]]) -> None:
    lists, creations = results
    setup = f"gunicorn {version('gunicorn')}, {WORKERS} gthread workers x {THREADS} threads each, DEBUG off"
    table(
        [
            f"First page of a list, ms ({PAGE} rows): ServiFlow's customer list (default order) and unified",
            f"queue (all statuses) as an agent; {PEER_PACKAGE}'s ticket list as staff.",
            f"{setup}. x: django-helpdesk's list median / ServiFlow's median.",
        ],
        [
            "tickets",
            "list med",
            "list p95",
            "queue med",
            "queue p95",
            "peer med",
            "peer p95",
            "peer n",
            "x list",
            "x queue",
        ],
        [
            [
                f"{size.tickets:,}",
                *(f"{value:.1f}" for value in (med(size.sf_list), p95_ms(size.sf_list))),
                *(f"{value:.1f}" for value in (med(size.sf_queue), p95_ms(size.sf_queue))),
                *(f"{value:.1f}" for value in (med(size.peer_list), p95_ms(size.peer_list))),
                str(len(size.peer_list)),
                f"{med(size.peer_list) / med(size.sf_list):.0f}x",
                f"{med(size.peer_list) / med(size.sf_queue):.0f}x",
            ]
            for size in lists
        ],
    )
    table(
        [
            "Ticket creation through the API: the client's latency (ms) and creations per second",
            "over the wall time of the timed ones.",
            "x: ServiFlow's creations/s / django-helpdesk's.",
        ],
        ["concurrency", "SF med", "SF p95", "SF /s", "peer med", "peer p95", "peer /s", "x /s", "not 201"],
        [
            [
                str(ours.concurrency),
                *(f"{value:.1f}" for value in (med(ours.latencies), p95_ms(ours.latencies), ours.per_second)),
                *(
                    f"{value:.1f}"
                    for value in (med(theirs.latencies), p95_ms(theirs.latencies), theirs.per_second)
                ),
                f"{ours.per_second / theirs.per_second:.2f}x",
                f"{ours.failures}/{theirs.failures}",
            ]
            for ours, theirs in creations
        ],
    )
    first, last = lists[0], lists[-1]
    by_concurrency = {ours.concurrency: (ours, theirs) for ours, theirs in creations}
    c1, c4 = by_concurrency[1][0], by_concurrency[4]
    list_growth = med(last.sf_list) / med(first.sf_list)
    queue_growth = med(last.sf_queue) / med(first.sf_queue)
    size = f"{last.tickets:,}"
    checks = [
        (
            f"create median <= {TARGET_CREATE_MS:g} ms at concurrency 1",
            med(c1.latencies) <= TARGET_CREATE_MS,
            f"{med(c1.latencies):.1f} ms",
        ),
        (
            f"creations/s >= {TARGET_CREATE_RATIO:g} x django-helpdesk's at concurrency 4",
            c4[0].per_second >= TARGET_CREATE_RATIO * c4[1].per_second,
            f"{c4[0].per_second / c4[1].per_second:.2f}x",
        ),
        (
            f"list median at {size} <= {TARGET_GROWTH:g} x at {first.tickets:,}",
            list_growth <= TARGET_GROWTH,
            f"{list_growth:.2f}x",
        ),
        (
            f"queue median at {size} <= {TARGET_GROWTH:g} x at {first.tickets:,}",
            queue_growth <= TARGET_GROWTH,
            f"{queue_growth:.2f}x",
        ),
        (
            f"list >= {TARGET_SPEEDUP:g} x faster than django-helpdesk's at {size}",
            med(last.peer_list) >= TARGET_SPEEDUP * med(last.sf_list),
            f"{med(last.peer_list) / med(last.sf_list):.0f}x",
        ),
        (
            f"queue >= {TARGET_SPEEDUP:g} x faster than django-helpdesk's list at {size}",
            med(last.peer_list) >= TARGET_SPEEDUP * med(last.sf_queue),
            f"{med(last.peer_list) / med(last.sf_queue):.0f}x",
        ),
        (
            "every creation answered 201 (both apps)",
            all(ours.failures == theirs.failures == 0 for ours, theirs in creations),
            f"{sum(CREATES.values())} each",
        ),
    ]
    print_verdict(checks)


def main() -> int:
    # Worker processes inherit these too: their own broker queue and cache keys, beside the dev ones.
    env = {"CELERY_QUEUE": CELERY_QUEUE, "CACHE_KEY_PREFIX": CELERY_QUEUE}
    return in_bench_database(lambda bench_url: report(run(bench_url)), env=env)


if __name__ == "__main__":
    sys.exit(main())
