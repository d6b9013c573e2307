"""Unified queue benchmark: the first page of ``GET /api/v1/tickets/`` as the platform grows.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it fills the platform up to 10, 100 and 1,000
customers with 200 tickets each (model instances, one ``bulk_create`` per customer, plus their
``ticket_index`` rows written by the app's ``index_write``) and at each size measures:

- the server-side time of the first page (open and pending, default order ``resolution_due``,
  50 rows): 200 requests after 10 warm-ups through the whole Django stack in-process (WSGI
  handler, Bearer token, Host ``localhost``, DEBUG off), as an agent who works every customer
  and, for information, as one who is a member of half of them;
- the same SQL the API runs for that page, executed on its own (raw cursor), and the same page
  computed by a UNION ALL over the customers' schemas (raw SQL, same key, 200 runs up to 100
  customers, 30 above; one statement per 100 schemas, whose pages are merged);
- ticket creations per second through the API: gunicorn with 2 sync workers, 8 client threads,
  400 POSTs spread over 8 customers (their users' tokens).

Targets: p95 <= 10 ms at 1,000 customers, p95 at 1,000 <= 2 x p95 at 10, and the API at least
20 x faster than the UNION ALL at 1,000 customers (median against median).

Run: ``python3 dev.py bench queue`` (or ``make bench-queue``; it runs this folder, ``bench/queue``).
``--smoke`` for tiny sizes (4 customers of 100 tickets, a few requests: it runs, its figures
mean nothing). ``QUEUE_BENCH_SIZES=5,20`` for a quick try at other sizes;
``QUEUE_BENCH_EXPLAIN=1`` prints the queue query's plan at the largest size.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/queue: run as ``python bench/queue``
BENCH = HERE.parent
ROOT = BENCH.parent
# The project first; bench/ last, for the sibling ``provision`` module. (A file bench/queue.py
# would shadow the standard library's ``queue`` for Celery and psycopg; this folder does not:
# a regular module always wins over a folder without __init__.py.)
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import (  # noqa: E402
    free_port,
    in_bench_database,
    log,
    p95,
    print_verdict,
    purge_queue,
    served,
    smoke,
    wsgi_get,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
# Smoke: one size (each size starts gunicorn), where the "half" agent still sees a full page
# (PAGE open or pending tickets): 2 of 4 customers with 100 tickets each.
_DEFAULT_SIZES = "4" if SMOKE else "10,100,1000"
SIZES = tuple(int(size) for size in os.environ.get("QUEUE_BENCH_SIZES", _DEFAULT_SIZES).split(","))
TICKETS = 100 if SMOKE else 200  # per customer
REQUESTS, WARMUPS = (10, 2) if SMOKE else (200, 10)
PAGE = 50
QUEUE_PATH, QUEUE_QUERY = "/api/v1/tickets/", "status=open,pending"
CREATIONS, THREADS, CREATORS, WORKERS = (16 if SMOKE else 400), 8, 8, 2
JOB = "bench.queue"
PASSWORD = "queue-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database
CELERY_QUEUE = f"bench-queue-{os.getpid()}"  # creations enqueue notifications; removed at the end

TARGET_P95_MS = 10.0  # issue 14: with the SLA state columns
TARGET_GROWTH = 2.0  # API p95 at the largest size / at the smallest
TARGET_SPEEDUP = 20.0  # UNION ALL median / API median at the largest size


UNION_CHUNK = 100  # schemas per UNION ALL statement (each schema takes ~14 locks to plan)


def union_runs(customers: int) -> int:
    if SMOKE:
        return 5
    return 200 if customers <= 100 else 30


# Resolution due after creation by priority, a fixed stand-in for the SLA engine (whose policies
# are not what is measured here): gives the default order a real key.
RESOLUTION_AFTER = {
    "P1": timedelta(hours=4),
    "P2": timedelta(days=1),
    "P3": timedelta(days=3),
    "P4": timedelta(days=7),
}
# The SLA the tickets keep (24x7, warning at 80 %): its resolution targets are RESOLUTION_AFTER,
# so the engine gives the same resolution due times; first response is due after a quarter.
SNAPSHOT = {
    "policy": {"id": 0, "name": "Bench 24x7"},
    "targets": {
        priority: {
            "first_response": int(after.total_seconds() // 240),
            "resolution": int(after.total_seconds() // 60),
        }
        for priority, after in RESOLUTION_AFTER.items()
    },
    "warning_percent": 80,
    "business_hours": None,
}


def timeline(created: Any, status: str, changed: Any) -> list[dict[str, Any]]:
    """The clock segments of a bench ticket: running since creation, then paused (pending) or
    stopped (resolved, closed) at ``changed``."""
    first = {"state": "running", "start": created.isoformat(), "end": None, "by": JOB, "reason": ""}
    if status == "open":
        return [first]
    state = "paused" if status == "pending" else "stopped"
    then = {"state": state, "start": changed.isoformat(), "end": None, "by": JOB, "reason": status}
    return [{**first, "end": changed.isoformat()}, then]


# The index's sort key, due_sort, as the UNION ALL computes it from each schema's tickets.
DUE = "COALESCE(t.resolution_due, {no_due})"
UNION_BRANCH = """
    SELECT {customer}::bigint AS customer_id, t.id, {prefix} || '-' || t.number AS number, t.subject,
           t.status, t.priority, t.assignee_id, u.name AS requester_name, t.created_at, t.updated_at,
           {due} AS due_sort
      FROM {tickets} AS t JOIN public.accounts_user AS u ON u.id = t.requester_user_id
     WHERE t.status IN ('open', 'pending')"""
UNION_PAGE = """
    SELECT p.*, c.slug, c.name AS customer_name, a.name AS assignee_name
      FROM (SELECT * FROM ({branches}) AS q ORDER BY due_sort, customer_id, id DESC LIMIT {page}) AS p
      JOIN public.tenants_customer AS c ON c.id = p.customer_id
      LEFT JOIN public.accounts_user AS a ON a.id = p.assignee_id
     ORDER BY p.due_sort, p.customer_id, p.id DESC"""


@dataclass
class Cast:
    agent: Any  # accounts.User with all_customers: the caller of the measured requests
    agent_token: str
    half: Any  # accounts.User, member of every other customer
    half_token: str
    customers: list[Any] = field(default_factory=list)  # tenants.Customer, in creation order
    creators: list[tuple[str, str]] = field(default_factory=list)  # (slug, a customer user's token)


@dataclass
class Creations:
    per_second: float
    latencies: list[float]
    failures: int  # answers other than 201
    indexed: int  # new ticket_index rows (one per creation expected)


@dataclass
class Size:
    customers: int
    tickets: int
    api: list[float]
    half: list[float]
    sql: list[float]
    union: list[float]
    same_page: bool
    creations: Creations


def ms(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, p95(samples) * 1000


def setup_cast() -> Cast:
    from accounts.services import AgentFields, agent_create, token_issue

    everyone = AgentFields(email="queue@msp.bench", name="Queue Agent", all_customers=True)
    agent = agent_create(fields=everyone, password=PASSWORD)
    half = agent_create(fields=AgentFields(email="half@msp.bench", name="Half Agent"), password=PASSWORD)
    return Cast(
        agent, token_issue(user=agent, name="bench")[1], half, token_issue(user=half, name="bench")[1]
    )


def draw_tickets(number: int, profile: Any, agent: Any) -> list[Any]:
    """Customer ``number``'s TICKETS tickets (unsaved), the same on every run: ~40 % open,
    15 % pending, 30 % resolved, 15 % closed; P1 5 %, P2 20 %, P3 55 %, P4 20 %; created over the
    last 180 days, numbered in creation order; 60 % assigned to ``agent``. Model instances, so
    every column not set here gets the model's default (a column added later cannot break this)."""
    from django.utils import timezone

    from sla.engine.keeping import sla_compute
    from tickets.models import Ticket

    rng = random.Random(f"bench-queue-{number}")  # noqa: S311 - fixed seed, not security
    now = timezone.now()
    draws = [
        (now - rng.random() * timedelta(days=180), rng.random(), rng.random(), rng.random())
        for _ in range(TICKETS)
    ]
    tickets = []
    for n, (created, s, p, a) in enumerate(sorted(draws), start=1):
        status = "open" if s < 0.40 else "pending" if s < 0.55 else "resolved" if s < 0.85 else "closed"
        priority = "P1" if p < 0.05 else "P2" if p < 0.25 else "P3" if p < 0.80 else "P4"
        age = now - created
        tickets.append(
            Ticket(
                number=n,
                subject=f"Bench ticket {n}",
                status=status,
                priority=priority,
                requester=profile,
                requester_user=profile.user,
                assignee=None if a < 0.4 else agent,
                created_by_job=JOB,
                last_public_from="agent" if status == "pending" else "customer",
                first_responded_at=created + age * 0.1 if status != "open" else None,
                resolved_at=created + age * 0.3 if status in ("resolved", "closed") else None,
                closed_at=created + age * 0.6 if status == "closed" else None,
                created_at=created,
                updated_at=created + age * 0.7,
                sla_snapshot=SNAPSHOT,
                sla_source="default",
                sla_segments=timeline(created, status, created + age * 0.3),
            )
        )
    for ticket in tickets:  # due times, breach facts: the engine's own
        sla_compute(ticket, now)
    return tickets


def add_customer(cast: Cast, number: int) -> None:
    """One customer: provisioned, one customer user, TICKETS tickets and their index rows."""
    from django.db import connection, transaction
    from psycopg import sql

    from accounts.models import AgentMembership
    from accounts.services import token_issue
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets.index.services import index_write
    from tickets.models import Ticket, TicketNumber

    slug = f"q{number:04d}"
    with transaction.atomic():
        customer = customer_provision(name=f"Queue bench {number}", slug=slug)
        with customer_schema(customer):
            fields = CustomerUserFields(email=f"user@{slug}.bench", name=f"User {number}")
            profile = customer_user_create(customer=customer, fields=fields, password=PASSWORD)
            tickets = Ticket.objects.bulk_create(draw_tickets(number, profile, cast.agent))
            TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": TICKETS})
            index_write(customer=customer, tickets=tickets)
        tables = [
            sql.Identifier(customer.schema_name, model._meta.db_table) for model in (Ticket, TicketNumber)
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(tables)))
        if number % 2 == 0:
            AgentMembership.objects.create(agent=cast.half, customer=customer)
    cast.customers.append(customer)
    if len(cast.creators) < CREATORS:
        cast.creators.append((slug, token_issue(user=profile.user, name="bench")[1]))


def fill(cast: Cast, size: int) -> None:
    from django.db import connection

    start, before = time.perf_counter(), len(cast.customers)
    while len(cast.customers) < size:
        add_customer(cast, len(cast.customers) + 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ticket_index, tenants_customer, accounts_user, accounts_agentmembership")
    added, took = size - before, time.perf_counter() - start
    log(f"==> filled to {size} customers (+{added} in {took:.0f} s, {took / added * 1000:.0f} ms each)")


def time_api(handler: Callable[..., Any], token: str) -> tuple[list[float], list[tuple[str, int]]]:
    """REQUESTS timed first pages (after WARMUPS); returns the times and the page's tickets."""
    samples: list[float] = []
    page: list[tuple[str, int]] = []
    for i in range(WARMUPS + REQUESTS):
        took, code, _, body = wsgi_get(handler, QUEUE_PATH, QUEUE_QUERY, token)
        results = json.loads(body)["results"] if code == 200 else []
        if code != 200 or len(results) != PAGE:
            raise RuntimeError(f"queue answered {code} with {len(results)} rows: {body[:300]!r}")
        page = [(row["customer"], row["id"]) for row in results]
        if i >= WARMUPS:
            samples.append(took)
    return samples, page


def queue_sql(agent: Any) -> tuple[str, tuple[Any, ...]]:
    """The SQL (and parameters) the API runs for ``agent``'s first page."""
    from tickets.filtersets import QueueFilterSet
    from tickets.index.queue import DEFAULT_ORDERING, ORDERINGS, queue_entries

    entries = QueueFilterSet({"status": "open,pending"}, queue_entries(agent), user=agent).qs
    order = [f"{'-' if descending else ''}{name}" for name, descending in ORDERINGS[DEFAULT_ORDERING]]
    return entries.order_by(*order)[: PAGE + 1].query.sql_with_params()


def time_sql(statements: list[tuple[str, Any]], runs: int) -> tuple[list[float], list[list[Any]]]:
    """Each run executes every statement and fetches its rows; 2 untimed runs first."""
    from django.db import connection

    samples: list[float] = []
    pages: list[list[Any]] = []
    with connection.cursor() as cursor:
        for i in range(2 + runs):
            start, pages = time.perf_counter(), []
            for query, params in statements:
                cursor.execute(query, params)
                pages.append(cursor.fetchall())
            if i >= 2:
                samples.append(time.perf_counter() - start)
    return samples, pages


def union_statements(customers: list[Any]) -> list[tuple[str, Any]]:
    """The first page as UNION ALL over the schemas, one statement per UNION_CHUNK of them."""
    from django.db import connection
    from psycopg import sql

    from tickets.index.models import NO_DUE
    from tickets.index.services import ticket_prefix

    connection.ensure_connection()
    due = sql.SQL(DUE).format(no_due=sql.Literal(NO_DUE))
    statements: list[tuple[str, Any]] = []
    for first in range(0, len(customers), UNION_CHUNK):
        branches = [
            sql.SQL(UNION_BRANCH).format(
                customer=sql.Literal(customer.pk),
                prefix=sql.Literal(ticket_prefix(customer)),
                tickets=sql.Identifier(customer.schema_name, "tickets_ticket"),
                due=due,
            )
            for customer in customers[first : first + UNION_CHUNK]
        ]
        union = sql.SQL(UNION_PAGE).format(branches=sql.SQL(" UNION ALL ").join(branches), page=PAGE)
        statements.append((union.as_string(connection.connection), None))
    return statements


def union_page(pages: list[list[Any]]) -> list[tuple[str, int]]:
    """Merge the chunks' pages (columns: customer_id, id, ..., due_sort at 10, slug at 11)."""
    rows = sorted((row for page in pages for row in page), key=lambda row: (row[10], row[0], -row[1]))
    return [(row[11], row[1]) for row in rows[:PAGE]]


def explain_queue(agent: Any) -> None:
    from django.db import connection

    query, params = queue_sql(agent)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}", params)
        log("\nPlan of the queue's first page (agent with all customers):")
        for (line,) in cursor.fetchall():
            log(f"    {line}")


def http(port: int, method: str, path: str, token: str = "", body: dict[str, str] | None = None) -> int:
    """One request to gunicorn on the console host; returns the status code."""
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextmanager
def gunicorn(database_url: str) -> Iterator[int]:
    """gunicorn with WORKERS sync workers on the bench database, DEBUG off; yields its port."""
    from django.conf import settings

    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
        "SECRET_KEY": "bench-queue-" + os.urandom(16).hex(),
        "EMAIL_URL": "locmem:",
        "SECURE_SSL_REDIRECT": "0",
    }
    command = [str(Path(sys.executable).parent / "gunicorn"), "serviflow.wsgi:application"]
    command += ["--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]

    def healthy() -> bool:
        return http(port, "GET", "/healthz") == 200

    try:
        with served(command, name="queue", env=env, cwd=ROOT, ready=healthy):
            yield port
    finally:
        purge_broker()


def purge_broker() -> None:
    """Drop the notification tasks the creations queued (nothing consumes CELERY_QUEUE)."""
    queued = purge_queue(CELERY_QUEUE)
    if queued:
        log(f"    removed {queued} queued notification tasks of {CELERY_QUEUE}")


def index_rows() -> int:
    from tickets.index.models import TicketIndexEntry

    return TicketIndexEntry.objects.count()


def time_creations(port: int, creators: list[tuple[str, str]]) -> Creations:
    """CREATIONS POSTs from THREADS threads, thread i as the user of customer i mod len(creators)."""

    def create(slug: str, token: str, subject: str) -> int:
        body = {"subject": subject, "priority": "P3"}
        return http(port, "POST", f"/api/v1/customers/{slug}/tickets/", token, body)

    for slug, token in creators:  # warm-up: imports, connections in both workers
        create(slug, token, "Warm-up")
    before = index_rows()
    latencies: list[float] = []
    codes: list[int] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        slug, token = creators[i % len(creators)]
        for n in range(CREATIONS // THREADS):
            start = time.perf_counter()
            code = create(slug, token, f"Created by client {i}, #{n}")
            with lock:
                latencies.append(time.perf_counter() - start)
                codes.append(code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    failures = sum(code != 201 for code in codes)
    return Creations(len(codes) / wall, latencies, failures, index_rows() - before)


def measure(cast: Cast, database_url: str) -> Size:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    api, page = time_api(handler, cast.agent_token)
    half, _ = time_api(handler, cast.half_token)
    sql, _ = time_sql([queue_sql(cast.agent)], REQUESTS)
    union, pages = time_sql(union_statements(cast.customers), union_runs(len(cast.customers)))
    same = page == union_page(pages)
    log(
        f"    API median {ms(api)[0]:.1f} ms, p95 {ms(api)[1]:.1f} ms; UNION ALL median {ms(union)[0]:.1f} ms"
    )
    if not same:
        log("    NOTE the UNION ALL page differs from the API's first page")
    tickets = index_rows()
    with gunicorn(database_url) as port:
        creations = time_creations(port, cast.creators)
    log(f"    {creations.per_second:.0f} creations/s, {creations.failures} not 201")
    return Size(len(cast.customers), tickets, api, half, sql, union, same, creations)


def table(title: list[str], header: list[str], cells: Iterable[list[str]]) -> None:
    rows = list(cells)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    log("\n" + "\n".join(title))
    log(line)
    log("-" * len(line))
    for row in rows:
        log("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def queue_row(size: Size) -> list[str]:
    api, half, union = ms(size.api), ms(size.half), ms(size.union)
    times = [f"{value:.1f}" for value in (*api, *half, ms(size.sql)[0], *union)]
    ratios = [f"{union[0] / api[0]:.1f}x", f"{union[1] / api[1]:.1f}x"]
    return [str(size.customers), str(size.tickets), *times, *ratios, "yes" if size.same_page else "NO"]


def creation_row(size: Size) -> list[str]:
    made = size.creations
    times = [f"{value:.1f}" for value in (made.per_second, *ms(made.latencies))]
    return [str(size.customers), *times, str(made.failures), f"{made.indexed}/{len(made.latencies)}"]


def report(sizes: list[Size]) -> None:
    title = [
        f"Unified queue, first page ({QUEUE_QUERY}, default order, {PAGE} rows), server-side ms.",
        "API: in-process Django, agent with every customer; half: agent in every other customer;",
        "SQL: the API's own query alone; UNION: UNION ALL over the schemas; x: UNION / API.",
    ]
    header = ["customers", "tickets", "API med", "API p95", "half med", "half p95", "SQL med"]
    table(title, [*header, "UNION med", "UNION p95", "x med", "x p95", "same page"], map(queue_row, sizes))
    title = [f"Ticket creations through the API: gunicorn, {WORKERS} sync workers, {THREADS} client threads."]
    header = ["customers", "creations/s", "median ms", "p95 ms", "not 201", "indexed"]
    table(title, header, map(creation_row, sizes))

    first, last = sizes[0], sizes[-1]
    p95_last, growth = ms(last.api)[1], ms(last.api)[1] / ms(first.api)[1]
    speedup = ms(last.union)[0] / ms(last.api)[0]
    created = all(
        s.creations.failures == 0 and s.creations.indexed == len(s.creations.latencies) for s in sizes
    )
    checks = [
        (
            f"API p95 <= {TARGET_P95_MS:g} ms at {last.customers}",
            p95_last <= TARGET_P95_MS,
            f"{p95_last:.1f} ms",
        ),
        (
            f"API p95 at {last.customers} <= {TARGET_GROWTH:g} x p95 at {first.customers}",
            growth <= TARGET_GROWTH,
            f"{growth:.2f}x",
        ),
        (
            f"API >= {TARGET_SPEEDUP:g} x faster than UNION ALL at {last.customers} (medians)",
            speedup >= TARGET_SPEEDUP,
            f"{speedup:.1f}x",
        ),
        ("every creation answered 201 and wrote its index row", created, f"{CREATIONS} per size"),
    ]
    print_verdict(checks)


def run(database_url: str) -> list[Size]:
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    from audit.context import job_context

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    settings.DEBUG = False  # no query logging in the measured requests
    sizes: list[Size] = []
    # A fast hasher for the throw-away accounts: nothing measured checks a password.
    fast_hasher = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with job_context(JOB), fast_hasher:
        cast = setup_cast()
        for size in SIZES:
            fill(cast, size)
            sizes.append(measure(cast, database_url))
        if os.environ.get("QUEUE_BENCH_EXPLAIN") == "1":
            explain_queue(cast.agent)
    return sizes


def main() -> int:
    # Worker processes inherit these too: their own broker queue and cache keys, beside the dev ones.
    env = {"CELERY_QUEUE": CELERY_QUEUE, "CACHE_KEY_PREFIX": CELERY_QUEUE}
    return in_bench_database(lambda bench_url: report(run(bench_url)), env=env)


if __name__ == "__main__":
    sys.exit(main())
