"""The sweep section of ``bench/sla``: one SLA sweep with 100 clocks due, as customers grow.

In the throw-away bench database it fills the platform to 10 and then 1,000 customers, each
with 200 open tickets whose timers sit in the public ``sla_timer`` table at future instants
(model instances, one ``bulk_create`` of tickets per schema and one of their 2 timers each).
At each size, ROUNDS times, it opens 100 real tickets through ``ticket_create`` with the clock
set 65 minutes back (P1 of the provider default: first response 60 min), lets an untimed sweep
as of 10 minutes ago send their warnings (as the sweep before would have), and then times the
sweep that finds the 100 first-response clocks past their due time (100 breach events), spread
over the customers (10 per customer at 10 customers, 1 in each of 100 customers at 1,000), and
times one ``sla_sweep()`` that records and notifies them (in-app row and email through
Django's locmem backend).

Targets: the sweep at 1,000 customers <= 1 s, and <= 2 x the same sweep at 10 customers
(median against median).

``--smoke`` (of ``bench/sla``): 3 customers of 20 tickets, 6 clocks due, one round.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from provision import log, smoke

SMOKE = smoke()
TICKETS = 20 if SMOKE else 200  # open tickets per customer
DUE = 6 if SMOKE else 100  # clocks due per sweep
ROUNDS = int(os.environ.get("SLA_BENCH_ROUNDS", "1" if SMOKE else "3"))
_DEFAULT_SIZES = "3" if SMOKE else "10,1000"
SIZES = tuple(int(size) for size in os.environ.get("SLA_BENCH_SIZES", _DEFAULT_SIZES).split(","))
JOB = "bench.sla"
CELERY_QUEUE = f"bench-sla-{os.getpid()}"  # ticket creations enqueue notifications; purged at the end
# The background tickets' clocks: due this long after creation, so none is due while timing.
DUE_AFTER = {"first_response": timedelta(days=1), "resolution": timedelta(days=3)}
TARGET_SWEEP_S = 1.0
TARGET_GROWTH = 2.0


@dataclass
class Platform:
    agent: Any = None
    customers: list[tuple[Any, Any]] = field(default_factory=list)  # (customer, requester profile)


def background_tickets(number: int, profile: Any) -> list[Any]:
    """Customer ``number``'s TICKETS open P3 tickets (unsaved), created in the last 12 hours,
    due in 1 and 3 days. Model instances, so every column not set here gets the model's default
    (a column added later cannot break this)."""
    from django.utils import timezone

    from tickets.models import Ticket

    rng = random.Random(f"bench-sla-{number}")  # noqa: S311 - fixed seed, not security
    now = timezone.now()
    tickets = []
    for n in range(1, TICKETS + 1):
        created = now - rng.random() * timedelta(hours=12)
        tickets.append(
            Ticket(
                number=n,
                subject=f"Bench ticket {n}",
                status="open",
                priority="P3",
                requester=profile,
                requester_user=profile.user,
                created_by_job=JOB,
                created_at=created,
                updated_at=created,
                sla_source="default",
                sla_reason="bench",
                first_response_due=created + DUE_AFTER["first_response"],
                resolution_due=created + DUE_AFTER["resolution"],
            )
        )
    return tickets


def add_customer(platform: Platform, number: int) -> None:
    from django.db import connection, transaction
    from psycopg import sql

    from people.services import CustomerUserFields, customer_user_create
    from sla.models import SlaTimer
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets.models import Ticket, TicketNumber

    slug = f"s{number:04d}"
    with transaction.atomic():
        customer = customer_provision(name=f"SLA bench {number}", slug=slug)
        with customer_schema(customer):
            fields = CustomerUserFields(email=f"user@{slug}.bench", name=f"User {number}")
            profile = customer_user_create(customer=customer, fields=fields, password=None)
            tickets = Ticket.objects.bulk_create(background_tickets(number, profile))
            TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": TICKETS})
        # Each ticket's two breach timers, at its due times (the warnings are not what is timed).
        SlaTimer.objects.bulk_create(
            SlaTimer(
                customer=customer,
                ticket_id=ticket.pk,
                clock=clock,
                kind="breach",
                fire_at=ticket.created_at + after,
            )
            for ticket in tickets
            for clock, after in DUE_AFTER.items()
        )
        with connection.cursor() as cursor:
            table = sql.Identifier(customer.schema_name, Ticket._meta.db_table)
            cursor.execute(sql.SQL("ANALYZE {}").format(table))
    platform.customers.append((customer, profile))


def fill(platform: Platform, size: int) -> None:
    from django.db import connection

    started, before = time.perf_counter(), len(platform.customers)
    while len(platform.customers) < size:
        add_customer(platform, len(platform.customers) + 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sla_timer, sla_event, tenants_customer")
    took = time.perf_counter() - started
    log(f"==> filled to {size} customers (+{size - before} in {took:.0f} s)")


def open_due_tickets(platform: Platform, round_number: int) -> None:
    """DUE real tickets, opened 65 minutes ago, spread over the customers."""
    import time_machine
    from django.utils import timezone

    from tenants.schema import customer_schema
    from tickets import workflows

    size = len(platform.customers)
    spread = min(size, DUE)
    past = timezone.now() - timedelta(minutes=65)
    with time_machine.travel(past, tick=False):
        for index in range(DUE):
            customer, profile = platform.customers[index % spread]
            with customer_schema(customer):
                workflows.ticket_create(
                    customer=customer,
                    by=None,
                    new=workflows.NewTicket(
                        subject=f"Due {round_number}.{index}",
                        priority="P1",
                        requester=profile,
                        assignee=platform.agent,
                    ),
                )


def time_sweep(platform: Platform) -> tuple[list[float], list[Any]]:
    from django.core import mail
    from django.utils import timezone

    from tickets.sla.sweep import sla_sweep

    samples, results = [], []
    for round_number in range(ROUNDS):
        open_due_tickets(platform, round_number)
        # As in steady operation, an earlier sweep (here: as of 10 minutes ago) already sent the
        # warnings (at 48 of 60 minutes); the timed sweep finds the 100 clocks past their due.
        warned = sla_sweep(now=timezone.now() - timedelta(minutes=10))
        if warned.recorded != DUE:
            raise AssertionError(f"expected {DUE} warnings first, got {warned}")
        mail.outbox = []
        with _observed() as observed:
            started = time.perf_counter()
            result = sla_sweep()
            samples.append(time.perf_counter() - started)
        if observed is not None:
            observed()
        results.append(result)
        if result.recorded != DUE or len(mail.outbox) != DUE:
            raise AssertionError(f"expected {DUE} breaches and emails, got {result} and {len(mail.outbox)}")
    return samples, results


PROFILE = os.environ.get("SLA_BENCH_PROFILE", "")


@contextmanager
def _observed() -> Iterator[Any]:
    """With ``SLA_BENCH_PROFILE=1``: count the sweep's statements and print where its time goes
    (cProfile, top 25 by cumulative time). Slows the sweep down; for finding work, not for figures."""
    if not PROFILE:
        yield None
        return
    import cProfile
    import pstats

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    profiler = cProfile.Profile()
    reset_queries()  # the log keeps 9,000 statements: a full one would make the capture look empty
    with CaptureQueriesContext(connection) as queries:
        profiler.enable()
        try:
            yield lambda: None
        finally:
            profiler.disable()
    log(f"    {len(queries.captured_queries)} statements")
    kinds: dict[str, int] = {}
    for query in queries.captured_queries:
        head = " ".join(query["sql"].split()[:3])[:60]
        kinds[head] = kinds.get(head, 0) + 1
    for head, count in sorted(kinds.items(), key=lambda item: -item[1])[:15]:
        log(f"      {count:>5}  {head}")
    log("    slowest statements:")
    for query in sorted(queries.captured_queries, key=lambda query: -float(query["time"]))[:8]:
        log(f"      {float(query['time']) * 1000:7.1f} ms  {query['sql'][:100]}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def purge_broker() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(client.scan_iter(match=f"*{CELERY_QUEUE}*"))
    if keys:
        client.delete(*keys)


def run_sweep() -> list[tuple[str, bool, str]]:
    """The sweep section; returns its PASS/FAIL checks (run inside the bench database)."""
    from django.conf import settings
    from django.core.management import call_command

    from accounts.services import AgentFields, agent_create
    from audit.context import job_context
    from sla.models import SlaTimer

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    medians: dict[int, float] = {}
    with job_context(JOB):
        everyone = AgentFields(email="sla@msp.bench", name="SLA Agent", all_customers=True)
        platform = Platform(agent_create(fields=everyone, password=None))
        try:
            for size in SIZES:
                fill(platform, size)
                samples, results = time_sweep(platform)
                medians[size] = statistics.median(samples)
                timers = SlaTimer.objects.count()
                log(
                    f"    {size:>5} customers, {timers:,} timers: sweep of {DUE} due clocks "
                    f"({results[0].recorded} events, {results[0].notified} notifications) "
                    + ", ".join(f"{s * 1000:.0f} ms" for s in samples)
                    + f" (median {medians[size] * 1000:.0f} ms)"
                )
        finally:
            purge_broker()
    small, large = medians[SIZES[0]], medians[SIZES[-1]]
    growth = large / small
    log(f"    growth {SIZES[-1]}/{SIZES[0]} customers: {growth:.2f}x")
    return [
        (
            f"sweep at {SIZES[-1]} customers <= {TARGET_SWEEP_S:.0f} s",
            large <= TARGET_SWEEP_S,
            f"{large * 1000:.0f} ms",
        ),
        (
            f"sweep at {SIZES[-1]} <= {TARGET_GROWTH:.0f} x sweep at {SIZES[0]}",
            growth <= TARGET_GROWTH,
            f"{growth:.2f}x",
        ),
    ]
