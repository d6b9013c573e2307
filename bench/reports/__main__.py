"""Monthly figures benchmark (issue 18): the figures of a month for every customer at once, beside
the naive way, and one customer's service report page.

In a throw-away database (``<name>_bench``, see bench/README.md) it provisions CUSTOMERS customers
(1,000) with TICKETS tickets each (2,000): the first customer's tickets are model instances
(``bulk_create``) with real SLA timelines and the engine's own due times and breaches, its index
rows written by the app's ``index_write``, and time entries by ``contracts.time.time_log``'s model;
every other customer gets a copy of them (INSERT … SELECT over the models' own columns, in its own
schema and in the public index), in a time zone of its own (UTC-8 to UTC+10). Tickets are spread
over the past year, so a month holds about a twelfth of them.

It measures, for the last full month:

- ``reports.figures.monthly_figures`` for all customers (what ``GET /api/v1/reports/customers/``
  and its CSV run): 5 runs after 1 warm-up;
- the naive way: one COUNT query per customer per figure, on each customer's own tickets
  (schema-qualified, in its time zone's month), the loop a schema-per-customer app would write:
  2 runs after 1 warm-up;
- one customer's service report: the console page (signed-in session, in-process Django) and
  ``GET /api/v1/reports/customers/{slug}/{month}/`` (JSON, live): 20 runs after 3 warm-ups each.

Targets: the figures for all customers in <= 2 s (median), at least 20 x faster than the naive
way (medians), and one customer's report page in <= 300 ms (median).

Run: ``python3 dev.py bench reports``; ``--smoke`` for tiny sizes (4 customers of 200 tickets).
``REPORTS_BENCH_CUSTOMERS=100`` for a quicker try.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import in_bench_database, log, p95, print_verdict, smoke, wsgi_get  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
CUSTOMERS = int(os.environ.get("REPORTS_BENCH_CUSTOMERS", "4" if SMOKE else "1000"))
TICKETS = 200 if SMOKE else 2000
FIGURE_RUNS, NAIVE_RUNS, PAGE_RUNS = (2, 1, 3) if SMOKE else (5, 2, 20)
JOB = "bench.reports"
PASSWORD = "reports-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Australia/Sydney"]

TARGET_FIGURES_S = 2.0
TARGET_RATIO = 20.0
TARGET_PAGE_MS = 300.0

TARGETS = {  # minutes: (first response, resolution), 24x7
    "P1": (30, 240),
    "P2": (60, 480),
    "P3": (240, 1440),
    "P4": (480, 2880),
}
SNAPSHOT = {
    "policy": {"id": 0, "name": "Bench 24x7"},
    "targets": {p: {"first_response": fr, "resolution": res} for p, (fr, res) in TARGETS.items()},
    "warning_percent": 80,
    "business_hours": None,
}


def segment(state: str, start: datetime, end: datetime | None, reason: str) -> dict[str, Any]:
    return {
        "state": state,
        "start": start.isoformat(),
        "end": end.isoformat() if end else None,
        "by": JOB,
        "reason": reason,
    }


def draw_tickets(profile: Any, now: datetime) -> list[Any]:
    """TICKETS tickets over the past year, the same on every run: 88 % resolved (5 % of them
    reopened and resolved again), 4 % closed, 5 % open, 3 % pending; resolution after minutes to
    days, so that some breach."""
    from sla.engine.keeping import sla_compute
    from tickets.models import Ticket

    rng = random.Random("bench-reports")  # noqa: S311 - fixed seed, not security
    created_at = sorted(now - rng.random() * timedelta(days=365) for _ in range(TICKETS))
    tickets = []
    for n, created in enumerate(created_at, start=1):
        s, priority = rng.random(), rng.choice(["P1", "P2", "P3", "P3", "P4"])
        answered = created + timedelta(minutes=rng.uniform(5, 300))
        done = created + timedelta(minutes=rng.uniform(30, 4000))
        status = "resolved" if s < 0.88 else "closed" if s < 0.92 else "open" if s < 0.97 else "pending"
        if done > now or status in ("open", "pending"):
            status = "open" if status in ("resolved", "closed") else status
            segments = [segment("running", created, None, "ticket created")]
            if status == "pending":
                segments = [
                    segment("running", created, answered, "ticket created"),
                    segment("paused", answered, None, "pending"),
                ]
        elif rng.random() < 0.05:  # resolved, reopened an hour later, resolved again
            again, last = done + timedelta(hours=1), done + timedelta(hours=3)
            segments = [
                segment("running", created, done, "ticket created"),
                segment("stopped", done, again, "resolved"),
                segment("running", again, last, "reopened"),
                segment("stopped", last, None, "resolved"),
            ]
            done = last
        else:
            segments = [
                segment("running", created, done, "ticket created"),
                segment("stopped", done, None, "resolved"),
            ]
        if status == "closed":
            segments[-1] = segment("stopped", done, None, "resolved")
        tickets.append(
            Ticket(
                number=n,
                subject=f"Bench ticket {n}",
                status=status,
                priority=priority,
                requester=profile,
                requester_user=profile.user,
                created_by_job=JOB,
                last_public_from="agent",
                first_responded_at=min(answered, now),
                resolved_at=done if status in ("resolved", "closed") else None,
                closed_at=done if status == "closed" else None,
                created_at=created,
                updated_at=done if done < now else created,
                sla_snapshot=SNAPSHOT,
                sla_source="default",
                sla_segments=segments,
            )
        )
    for ticket in tickets:
        sla_compute(ticket, now)
    return tickets


def columns(model: Any, *, skip: tuple[str, ...] = ()) -> list[str]:
    return [field.column for field in model._meta.concrete_fields if field.column not in skip]


def copy_sql(
    model: Any, source: str, target: str, replace: dict[str, str], skip: tuple[str, ...] = ()
) -> str:
    """INSERT INTO target SELECT the model's columns FROM source, with some columns replaced."""
    names = columns(model, skip=skip)
    chosen = ", ".join(replace.get(name, f'"{name}"') for name in names)
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"INSERT INTO {target} ({quoted}) SELECT {chosen} FROM {source}"


def build() -> tuple[list[Any], Any, Any, date]:
    """The customers (the first one's tickets drawn, the others' copied), the first customer, its
    admin agent and the month measured."""
    from django.db import connection, transaction

    from accounts.services import AgentFields, agent_create
    from contracts.models import TimeEntry
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets.index.models import TicketIndexEntry
    from tickets.index.services import index_write
    from tickets.models import Ticket, TicketNumber

    now = datetime.now(UTC)
    month = ((now.replace(day=1) - timedelta(days=1)).replace(day=1)).date()
    admin = agent_create(
        fields=AgentFields(email="reports@msp.bench", name="Report Admin", is_admin=True), password=PASSWORD
    )
    agents = [
        agent_create(
            fields=AgentFields(email=f"agent{n}@msp.bench", name=f"Agent {n}", all_customers=True),
            password=PASSWORD,
        )
        for n in range(5)
    ]
    started = time.perf_counter()
    with transaction.atomic():
        first = customer_provision(name="Reports 0001", slug="r0001", timezone_name=ZONES[0])
        with customer_schema(first):
            profile = customer_user_create(
                customer=first,
                fields=CustomerUserFields(email="user@r0001.bench", name="User"),
                password=PASSWORD,
            )
            tickets = Ticket.objects.bulk_create(draw_tickets(profile, now))
            TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": TICKETS})
            index_write(customer=first, tickets=tickets)
        rng = random.Random("bench-reports-time")  # noqa: S311
        TimeEntry.objects.bulk_create(
            TimeEntry(
                customer=first,
                ticket_id=ticket.pk,
                agent=rng.choice(agents),
                minutes=rng.choice([15, 30, 45, 60, 90]),
                work_date=ticket.created_at.date(),
                billable=rng.random() < 0.8,
                created_at=ticket.created_at,
            )
            for ticket in tickets
        )
    customers = [first]
    ticket_source = f'"{first.schema_name}"."{Ticket._meta.db_table}"'
    for n in range(2, CUSTOMERS + 1):
        with transaction.atomic():
            customer = customer_provision(
                name=f"Reports {n:04d}", slug=f"r{n:04d}", timezone_name=ZONES[n % len(ZONES)]
            )
            with connection.cursor() as cursor:
                target = f'"{customer.schema_name}"."{Ticket._meta.db_table}"'
                cursor.execute(copy_sql(Ticket, ticket_source, target, {"requester_id": "NULL"}))
                cursor.execute(
                    copy_sql(
                        TicketIndexEntry,
                        f"public.{TicketIndexEntry._meta.db_table} WHERE customer_id = {first.pk}",
                        f"public.{TicketIndexEntry._meta.db_table}",
                        {"customer_id": str(customer.pk)},
                        skip=("id",),
                    )
                )
                cursor.execute(
                    copy_sql(
                        TimeEntry,
                        f"public.{TimeEntry._meta.db_table} WHERE customer_id = {first.pk}",
                        f"public.{TimeEntry._meta.db_table}",
                        {"customer_id": str(customer.pk)},
                        skip=("id",),
                    )
                )
        customers.append(customer)
        if n % 100 == 0:
            log(f"    {n} customers ({time.perf_counter() - started:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ticket_index")
        cursor.execute("VACUUM ANALYZE contracts_timeentry")
        cursor.execute("ANALYZE tenants_customer")
    log(f"==> {len(customers)} customers x {TICKETS} tickets in {time.perf_counter() - started:.0f} s")
    return customers, first, admin, month


NAIVE = {
    "tickets_created": "SELECT count(*) FROM {t} WHERE created_at >= %(s)s AND created_at < %(e)s",
    "tickets_resolved": "SELECT count(*) FROM {t} WHERE resolved_at >= %(s)s AND resolved_at < %(e)s",
    "open_tickets": (
        "SELECT count(*) FROM {t} WHERE created_at < %(e)s AND (resolved_at IS NULL OR resolved_at >= %(e)s)"
        " AND (closed_at IS NULL OR closed_at >= %(e)s)"
    ),
    "first_response_ended": (
        "SELECT count(*) FROM {t} WHERE COALESCE(first_response_breached_at, first_responded_at) >= %(s)s"
        " AND COALESCE(first_response_breached_at, first_responded_at) < %(e)s"
    ),
    "first_response_met": (
        "SELECT count(*) FROM {t} WHERE first_response_breached_at IS NULL"
        " AND first_responded_at >= %(s)s AND first_responded_at < %(e)s"
    ),
    "resolution_ended": (
        "SELECT count(*) FROM {t} WHERE COALESCE(resolution_breached_at, resolved_at) >= %(s)s"
        " AND COALESCE(resolution_breached_at, resolved_at) < %(e)s"
    ),
    "resolution_met": (
        "SELECT count(*) FROM {t} WHERE resolution_breached_at IS NULL"
        " AND resolved_at >= %(s)s AND resolved_at < %(e)s"
    ),
    "breaches": (
        "SELECT count(*) FROM {t}"
        " WHERE (first_response_breached_at >= %(s)s AND first_response_breached_at < %(e)s)"
        " OR (resolution_breached_at >= %(s)s AND resolution_breached_at < %(e)s)"
    ),
    "time_minutes": (
        "SELECT count(*), sum(minutes) FROM public.contracts_timeentry"
        " WHERE customer_id = %(c)s AND work_date >= %(first)s AND work_date < %(after)s"
    ),
}


def naive(customers: list[Any], month: date) -> float:
    """One COUNT per customer per figure, on the customer's own tickets; seconds for all."""
    from django.db import connection

    from reports.figures import bounds_of, next_month
    from tickets.models import Ticket

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for customer in customers:
            bounds = bounds_of(customer, month)
            table = f'"{customer.schema_name}"."{Ticket._meta.db_table}"'
            params = {
                "s": bounds.start,
                "e": bounds.end,
                "c": customer.pk,
                "first": month,
                "after": next_month(month),
            }
            for statement in NAIVE.values():
                cursor.execute(statement.format(t=table), params)
                cursor.fetchall()
    return time.perf_counter() - start


def runs(action: Callable[[], Any], count: int, warmups: int = 1) -> list[float]:
    samples = []
    for i in range(warmups + count):
        start = time.perf_counter()
        action()
        if i >= warmups:
            samples.append(time.perf_counter() - start)
    return samples


def statement_times(action: Callable[[], Any]) -> None:
    """Each statement ``action`` runs, with its time and its plan's top line (a second run)."""
    from django.db import connection

    seen: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen.append((time.perf_counter() - start, " ".join(sql.split())))

    with connection.execute_wrapper(timed):
        action()
    for took, sql in seen:
        log(f"    {took * 1000:8.1f} ms  {sql[:160]}")


def measure(customers: list[Any], first: Any, admin: Any, month: date) -> bool:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client

    from accounts.services import token_issue
    from reports.figures import FIGURES, monthly_figures

    figures = runs(lambda: monthly_figures(customers, month), FIGURE_RUNS)
    if os.environ.get("REPORTS_BENCH_EXPLAIN") == "1":
        statement_times(lambda: monthly_figures(customers, month))
    result = monthly_figures(customers, month)[first.pk]
    median = statistics.median(figures)
    log(f"    figures of {month:%Y-%m} for {len(customers)} customers: median {median:.3f} s")
    shown = ", ".join(f"{name}={result[name]}" for name in FIGURES if name not in ("assets", "users"))
    log(f"    e.g. {first.slug}: {shown}")
    slow = [naive(customers, month) for _ in range(1 + NAIVE_RUNS)][1:]
    log(f"    naive: {len(customers) * len(NAIVE)} COUNT queries, median {statistics.median(slow):.3f} s")

    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    path = f"/customers/{first.slug}/report/?month={month:%Y-%m}"

    def page() -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"the report page answered {response.status_code}")

    pages = runs(page, PAGE_RUNS, warmups=3)
    handler = WSGIHandler()
    token = token_issue(user=admin, name="bench")[1]
    api_path = f"/api/v1/reports/customers/{first.slug}/{month:%Y-%m}/"

    def api() -> None:
        _, code, _, body = wsgi_get(handler, api_path, "", token)
        if code != 200:
            raise RuntimeError(f"the report API answered {code}: {body[:300]!r}")

    apis = runs(api, PAGE_RUNS, warmups=3)
    median_s, naive_s = statistics.median(figures), statistics.median(slow)
    page_ms, api_ms = statistics.median(pages) * 1000, statistics.median(apis) * 1000
    log(
        "\nMonthly figures, all customers (seconds)        median    p95\n"
        f"  reports.figures.monthly_figures         {median_s:10.3f} {p95(figures):7.3f}\n"
        f"  naive: a COUNT per customer per figure  {naive_s:10.3f}\n"
        f"  ratio naive / set-based                 {naive_s / median_s:9.1f}x\n"
        f"One customer's service report ({TICKETS} tickets), ms   median    p95\n"
        f"  console page                            {page_ms:10.1f} {p95(pages) * 1000:7.1f}\n"
        f"  API JSON (live)                         {api_ms:10.1f} {p95(apis) * 1000:7.1f}"
    )
    return print_verdict(
        [
            (
                f"figures for {len(customers)} customers <= {TARGET_FIGURES_S:g} s",
                median_s <= TARGET_FIGURES_S,
                f"{median_s:.3f} s",
            ),
            (
                f"set-based >= {TARGET_RATIO:g} x faster than the naive way",
                naive_s / median_s >= TARGET_RATIO,
                f"{naive_s / median_s:.1f}x",
            ),
            (
                f"one customer's report page <= {TARGET_PAGE_MS:g} ms",
                page_ms <= TARGET_PAGE_MS,
                f"{page_ms:.1f} ms",
            ),
        ]
    )


def run(_url: str) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    from audit.context import job_context

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    settings.DEBUG = False
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with job_context(JOB), fast:
        customers, first, admin, month = build()
        measure(customers, first, admin, month)


def main() -> int:
    return in_bench_database(run)


if __name__ == "__main__":
    sys.exit(main())
