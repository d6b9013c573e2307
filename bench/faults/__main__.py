"""Fault scripts (issue 20): ServiFlow's parts fail under load, and nothing committed is lost,
nothing is told twice, every failure is a clean 503, and everything recovers by itself.

Everything runs on a deployment of its own (``stack.Stack``): a PostgreSQL 18 cluster and a
Valkey started for the run in a temporary folder, on free loopback ports (the machine's shared
servers are never touched), migrated with ``sync_platform`` and seeded through the app's
services (customers, member agents, customer users with API tokens, a provider admin); then
gunicorn (2 workers, DEBUG off), a Celery worker (prefork, 2 children), beat and the SMTP
listener, as docker/entrypoint.sh starts them. Notification mail goes to a file folder, where
each mail is counted; the processes' logs are kept in ``test-artifacts/faults/``. Load: THREADS
clients, each creating a ticket through the API and reading its customer's ticket list in turn,
as customer users. Scenarios, in this order:

1. PostgreSQL restarted (``pg_ctl stop -m fast``, PG_DOWN_S seconds, ``start``) under load:
   every failed request is a 503 with the ``database_unavailable`` envelope, every acknowledged
   create (201 with an id) is in the database, requests succeed again within RECOVERY_S of the
   restart with no process restarted, and every ticket event is notified exactly once.
2. Valkey killed (SIGKILL, nothing persisted: it comes back empty, its queued messages gone) for
   REDIS_DOWN_S seconds under load: every request still succeeds (none needs the broker), and
   the events whose enqueue failed are re-driven from the outbox: each notified exactly once.
3. A worker's children killed (SIGKILL) mid-task while they send a burst of notifications, run a
   CSV import, parse mails from the SMTP listener, and run the SLA sweep: no notification or
   mail missing or duplicated, the import all or nothing (failed when its heartbeat stops, then
   retried: every row once), every mail one ticket, every SLA warning recorded and told once.
4. ``/healthz`` polled throughout: 503 naming ``database`` / ``broker`` during each outage,
   200 again within RECOVERY_S.
5. A second beat started by mistake: the periodic jobs the worker receives in BEAT_WINDOW_S,
   against the same window with one beat, per job (none may run more often); for information,
   the same two beats on Celery's own scheduler, without the lock (not in a smoke run).

Run: ``python3 dev.py bench faults``; ``--smoke`` for short outages and small bursts (it runs,
its figures mean little). Exit code 0 whatever the verdict; read the PASS/FAIL lines.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import smtplib
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/faults: run as ``python bench/faults``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from faults.stack import (  # noqa: E402
    Delivery,
    HealthWatch,
    Load,
    Reply,
    Stack,
    call,
    delivery,
    eventually,
    interrupt_on_sigterm,
    lines_in,
    sent_mails,
    wait_until,
    worker_log_counts,
)
from provision import log, print_verdict, smoke  # noqa: E402

SMOKE = smoke()
THREADS = 4
LOAD_BEFORE_S = 3 if SMOKE else 15  # load before the fault
PG_DOWN_S = 6 if SMOKE else 15
REDIS_DOWN_S = 4 if SMOKE else 60
LOAD_AFTER_S = 5 if SMOKE else 20  # load after the restart
RECOVERY_S = 10.0  # target: requests and /healthz succeed again within this of a restart
AGENTS = 5 if SMOKE else 30  # member agents of the burst's customer: a new ticket tells each
BURST = 8 if SMOKE else 60  # tickets created at once for the worker-kill scenario
IMPORT_ROWS = 400 if SMOKE else 4000
MAILS = 20 if SMOKE else 200
SLA_TICKETS = 10 if SMOKE else 150
PRIORITIES = ("P1", "P2", "P3", "P4")
BEAT_WINDOW_S = 8 if SMOKE else 40
BEAT_START_S = 5  # after a beat's first tick: the second beat started beside it is up as well
UNLOCKED = "celery.beat:PersistentScheduler"  # Celery's own scheduler: what the lock replaces
SETTLE_S = 40 if SMOKE else 240  # for the worker and the outbox's re-drive to finish
WAIT_S = 30 if SMOKE else 120  # for a part to start what a scenario waits on (a dead one: FAIL)
JOB = "bench.faults"
# Short periods, so that beat's jobs run often within a window, and the outbox's re-drive takes
# events left un-notified for 5 s (instead of 2 minutes).
ENV = {
    "OUTBOX_REDRIVE_SECONDS": "5",
    "OUTBOX_REDRIVE_AFTER": "5",
    "SLA_SWEEP_SECONDS": "2",
    "MAIL_SWEEP_SECONDS": "5",
    "NOTIFICATIONS_DIGEST_SECONDS": "5",
    "DAY_PASS_EXPIRY_SECONDS": "5",
    "IMPORT_LEASE_SECONDS": "3",
    "BEAT_LOCK_SECONDS": "3",  # a stopped beat's lock is free again within this
    "EMAIL_SENDER_LIMIT": "100000",
}

Check = tuple[str, bool, str]


@dataclass
class World:
    customers: list[Any]  # the first has AGENTS member agents
    creators: list[tuple[str, str]]  # (slug, token) of a customer user per customer
    admin: Any
    mailers: list[str] = field(default_factory=list)  # customer users of the last customer


def beat_jobs() -> set[str]:
    from django.conf import settings

    return {str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def seed() -> World:
    from accounts.services import AgentFields, agent_create, token_issue
    from audit.context import job_context
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision

    customers, creators, mailers = [], [], []
    with job_context(JOB):
        admin = agent_create(
            fields=AgentFields(email="admin@faults.test", name="Admin", is_admin=True), password=None
        )
        for c in range(3):
            customer = customer_provision(name=f"Faults {c}", slug=f"faults-{c}")
            customers.append(customer)
            with customer_schema(customer):
                for u in range(4 if c == 2 else 1):
                    person = CustomerUserFields(email=f"user{u}@faults-{c}.test", name=f"User {c}-{u}")
                    user = customer_user_create(customer=customer, fields=person, password=None).user
                    if u == 0:
                        creators.append((customer.slug, token_issue(user=user, name="faults")[1]))
                    if c == 2:
                        mailers.append(user.email)
        for a in range(AGENTS):
            fields = AgentFields(email=f"agent{a}@faults.test", name=f"Agent {a}", customers=(customers[0],))
            agent_create(fields=fields, password=None)
    return World(customers, creators, admin, mailers)


def last_events(world: World) -> dict[str, int]:
    from tenants.schema import customer_schema
    from tickets.models import TicketEvent

    last = {}
    for customer in world.customers:
        with customer_schema(customer):
            last[customer.schema_name] = (
                TicketEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            )
    return last


def settled(stack: Stack, world: World, since: dict[str, int]) -> Delivery:
    """Waits (up to SETTLE_S) until every event since ``since`` is notified with its mails, and
    returns the count, whether or not it got there."""
    outcome: list[Delivery] = []

    def done() -> bool:
        outcome[:] = [delivery(world.customers, since, stack.mail_dir)]
        return outcome[0].exact

    eventually(done, SETTLE_S, every=1.0)
    return outcome[0]


def reconnect() -> None:
    """The benchmark's own pooled connections died with the server; open new ones."""
    from django.db import connection

    connection.close()
    connection.close_pool()  # type: ignore[attr-defined]


def under_load(
    stack: Stack, world: World, fault: Callable[[], None], restore: Callable[[], None], down_s: float
) -> tuple[Load, HealthWatch, float, float]:
    load = Load(stack.web_port, world.creators, threads=THREADS).start()
    health = HealthWatch(stack.web_port).start()
    try:
        time.sleep(LOAD_BEFORE_S)
        down_at = time.monotonic()
        fault()
        time.sleep(down_s)
        restore()
        up_at = time.monotonic()
        time.sleep(LOAD_AFTER_S)
    finally:
        load.stop()
        health.stop()
    return load, health, down_at, up_at


def summary(replies: list[tuple[str, Reply]]) -> str:
    statuses = Counter(reply.status for _, reply in replies)
    return ", ".join(f"{status or 'no answer'}: {count}" for status, count in sorted(statuses.items()))


def acknowledged_found(world: World, load: Load) -> tuple[int, int, int]:
    """(acknowledged creates, those found in the database, load tickets in the database)."""
    from tenants.schema import customer_schema
    from tickets.models import Ticket

    acked = found = stored = 0
    for customer in world.customers:
        ids = [
            r.body["id"] for kind, r in load.replies if kind == f"create {customer.slug}" and r.status == 201
        ]
        with customer_schema(customer):
            acked += len(ids)
            found += Ticket.objects.filter(pk__in=ids).count()
            stored += Ticket.objects.filter(subject__startswith="Fault load").count()
    return acked, found, stored


def health_checks(health: HealthWatch, part: str, down_at: float, up_at: float) -> list[Check]:
    named, back = health.outage(part, down_at, up_at)
    again = "never" if back is None else f"{back:.1f} s after the restart"
    log(f"    /healthz: 503 naming the {part} while it was down: {named}; 200 again: {again}")
    return [
        (f"/healthz: 503 naming the {part} during its outage", named, f"{len(health.replies)} polls"),
        (
            f"/healthz: 200 again within {RECOVERY_S:g} s of the {part}'s restart",
            back is not None and back <= RECOVERY_S,
            "never" if back is None else f"{back:.1f} s",
        ),
    ]


def postgres_restart(stack: Stack, world: World) -> list[Check]:
    log(f"\n==> 1. PostgreSQL stopped for {PG_DOWN_S} s under load ({THREADS} clients)")
    since = last_events(world)
    pids = {name: proc.pid for name, proc in stack.procs.items()}
    load, health, down_at, up_at = under_load(
        stack, world, stack.postgres.stop, stack.postgres.start, PG_DOWN_S
    )
    reconnect()
    replies = load.replies
    failed = [r for _, r in replies if r.status not in (200, 201)]
    clean = [r for r in failed if r.clean_503]
    other = len(failed) - len(clean)
    # sent after PostgreSQL was back and failed all the same: the web's pools had not reconnected
    late = [r for _, r in replies if r.sent > up_at and r.status not in (200, 201)]
    recovery = max((r.at for r in late), default=up_at) - up_at
    acked, found, stored = acknowledged_found(world, load)
    result = settled(stack, world, since)
    same = all(
        stack.procs[name].pid == pid and stack.procs[name].poll() is None for name, pid in pids.items()
    )
    log(f"    requests {len(replies)} ({summary(replies)}); clean 503s {len(clean)}, other errors {other}")
    log(f"    acknowledged creates {acked}, found {found} (load tickets in the database: {stored})")
    log(
        f"    after the restart: {len(late)} failed, the last answered {recovery:.1f} s after it; "
        f"processes kept: {same}"
    )
    log(f"    {result.line()}")
    return [
        (
            "PostgreSQL down: failures seen, each a 503 with the envelope",
            bool(clean) and other == 0,
            f"{len(clean)} clean 503s, {other} other errors",
        ),
        (
            "PostgreSQL restart: no acknowledged create lost",
            acked == found,
            f"{acked} acknowledged, {found} found",
        ),
        (
            f"PostgreSQL restart: requests succeed within {RECOVERY_S:g} s, no process restarted",
            same and recovery <= RECOVERY_S,
            f"{recovery:.1f} s",
        ),
        ("PostgreSQL restart: every event notified exactly once", result.exact, result.line()),
        *health_checks(health, "database", down_at, up_at),
    ]


def redis_outage(stack: Stack, world: World) -> list[Check]:
    log(f"\n==> 2. Valkey killed for {REDIS_DOWN_S} s under load ({THREADS} clients), back empty")
    since = last_events(world)
    load, health, down_at, up_at = under_load(stack, world, stack.redis_kill, stack.redis_start, REDIS_DOWN_S)
    replies = load.replies
    during = [(kind, r) for kind, r in replies if down_at <= r.at <= up_at]
    failed = [r for _, r in replies if r.status not in (200, 201)]
    result = settled(stack, world, since)
    log(f"    requests {len(replies)} ({summary(replies)}); while down {len(during)} ({summary(during)})")
    log(f"    {result.line()}")
    return [
        (
            "Redis down: requests that need no broker keep working",
            not failed and bool(during),
            f"{len(during)} while down, {len(failed)} failed in all",
        ),
        ("Redis outage: every event notified exactly once (outbox re-driven)", result.exact, result.line()),
        *health_checks(health, "broker", down_at, up_at),
    ]


def kill_children(stack: Stack) -> int:
    children = stack.worker_children()
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    return len(children)


def kill_notifications(stack: Stack, world: World) -> list[Check]:
    from notifications.models import Notification

    log(f"\n==> 3a. worker children killed while notifying {BURST} new tickets x {AGENTS + 1} people")
    since = last_events(world)
    slug, token = world.creators[0]
    before = Notification.objects.count()
    for n in range(BURST):
        call(
            stack.web_port,
            "POST",
            f"/api/v1/customers/{slug}/tickets/",
            token,
            {"subject": f"Burst {n}", "priority": "P3"},
        )
    expected = BURST * (AGENTS + 1)
    wait_until(lambda: Notification.objects.count() > before, WAIT_S, "the first notification", every=0.05)
    partial = Notification.objects.count() - before
    killed = kill_children(stack)
    result = settled(stack, world, since)
    hit = partial < expected
    log(f"    killed {killed} children with {partial} of {expected} notifications made; {result.line()}")
    return [
        (
            "Worker killed mid-notification: none lost or duplicated",
            hit and result.exact,
            f"hit mid-burst: {hit}; {result.line()}",
        )
    ]


def users_csv(customer: Any, rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer", "email", "name"])
    for n in range(rows):
        writer.writerow([customer.slug, f"imported{n}@faults-import.test", f"Imported {n}"])
    return out.getvalue().encode()


def kill_import(stack: Stack, world: World) -> list[Check]:
    from accounts.models import User
    from audit.context import job_context
    from audit.models import Channel
    from imports.models import Import, ImportStatus
    from imports.services import import_retry, import_state, import_submit

    log(f"\n==> 3b. worker children killed during a CSV import of {IMPORT_ROWS} users")
    content = users_csv(world.customers[1], IMPORT_ROWS)
    imported = User.objects.filter(email__endswith="@faults-import.test")
    with job_context(JOB):  # reading an import's state fails it once its heartbeat stopped
        job = import_submit(
            by=world.admin,
            kind="users",
            file_name="faults.csv",
            content=content,
            dry_run=False,
            send_invites=False,
            channel=Channel.API,
        )

        def status() -> str:
            return str(import_state(Import.objects.get(pk=job.pk)).status)

        wait_until(lambda: status() not in (ImportStatus.QUEUED,), WAIT_S, "the import to start", every=0.05)
        hit = status() == ImportStatus.RUNNING
        killed = kill_children(stack)
        wait_until(lambda: status() != ImportStatus.RUNNING, WAIT_S, "the killed import to fail")
        after_kill, imported_then = status(), imported.count()
        if after_kill == ImportStatus.FAILED:
            import_retry(job=Import.objects.get(pk=job.pk), by=world.admin)
            eventually(lambda: status() in (ImportStatus.DONE, ImportStatus.FAILED), SETTLE_S)
        final = Import.objects.get(pk=job.pk)
    rows, distinct = imported.count(), imported.values("email").distinct().count()
    log(
        f"    killed {killed} children while it ran: {hit}; the import then {after_kill} with "
        f"{imported_then} rows; after the retry {final.status}: {rows} rows ({distinct} distinct) of "
        f"{IMPORT_ROWS}, created {final.created}"
    )
    ok = (
        hit
        and after_kill == ImportStatus.FAILED
        and imported_then == 0
        and final.status == ImportStatus.DONE
        and rows == distinct == IMPORT_ROWS
    )
    return [
        (
            "Worker killed mid-import: all or nothing, every row once after the retry",
            ok,
            f"hit: {hit}; {after_kill} with {imported_then} rows, then {final.status}: {rows}/{IMPORT_ROWS}",
        )
    ]


def kill_mail(stack: Stack, world: World) -> list[Check]:
    from mail.addresses import customer_address
    from mail.models import InboundMessage, State
    from tenants.schema import customer_schema
    from tickets.models import Ticket

    log(f"\n==> 3c. worker children killed while parsing {MAILS} mails into tickets")
    customer = world.customers[2]
    to = customer_address(customer)
    before = InboundMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    batch = InboundMessage.objects.filter(pk__gt=before)
    smtp = smtplib.SMTP("127.0.0.1", stack.mail_port, timeout=60)
    try:
        for n in range(MAILS):
            message = EmailMessage()
            sender = world.mailers[n % len(world.mailers)]
            message["From"], message["To"] = sender, to
            message["Subject"] = f"Fault mail {n}"
            message["Message-ID"] = f"<fault-{n}-{os.getpid()}@client.faults.test>"
            message.set_content(f"Mail number {n}: the printer is broken.\n")
            smtp.send_message(message)
    finally:
        smtp.quit()
    wait_until(
        lambda: batch.exclude(state=State.RECEIVED).exists(),
        WAIT_S,
        "the first mail to be parsed",
        every=0.05,
    )
    done_then = batch.exclude(state=State.RECEIVED).count()
    killed = kill_children(stack)
    eventually(lambda: not batch.filter(state=State.RECEIVED).exists(), SETTLE_S, every=0.5)
    states = Counter(batch.values_list("state", flat=True))
    with customer_schema(customer):
        subjects = Counter(
            Ticket.objects.filter(subject__startswith="Fault mail").values_list("subject", flat=True)
        )
    tickets, duplicated = len(subjects), sum(count - 1 for count in subjects.values())
    hit = done_then < MAILS
    log(
        f"    killed {killed} children with {done_then} of {MAILS} parsed; mails by state {dict(states)}; "
        f"tickets {tickets} (duplicated {duplicated})"
    )
    ok = hit and states.get(State.TICKET, 0) == MAILS and tickets == MAILS and duplicated == 0
    return [
        (
            "Worker killed mid-parse: every mail one ticket, none twice",
            ok,
            f"hit: {hit}; {tickets}/{MAILS} tickets, {duplicated} duplicated",
        )
    ]


def kill_sla_sweep(stack: Stack, world: World) -> list[Check]:
    """Tickets under a policy of 1- and 2-minute targets warned at 1 %: both clocks of each
    reach their warning within about a second. Beat is stopped meanwhile, so that one sweep
    (enqueued here) records and notifies them all (nobody assigned: the provider admin), and the
    worker's children are killed once it has recorded them and is still notifying. Beat is
    started again by the next scenario."""
    from audit.context import job_context
    from notifications.models import Notification
    from sla.models import SlaEvent
    from sla.services import sla_policy_create
    from tickets.tasks import sweep

    log(f"\n==> 3d. worker children killed while the SLA sweep records {SLA_TICKETS} tickets' warnings")
    minutes = {"first_response": 1, "resolution": 2}
    with job_context(JOB):
        sla_policy_create(
            name="Faults minutes",
            targets=dict.fromkeys(PRIORITIES, minutes),
            warning_percent=1,
            is_default=True,
        )
    before = SlaEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    events = SlaEvent.objects.filter(pk__gt=before)
    slug, token = world.creators[1]
    stack.stop("beat")
    for n in range(SLA_TICKETS):
        body = {"subject": f"SLA {n}", "priority": "P2"}
        call(stack.web_port, "POST", f"/api/v1/customers/{slug}/tickets/", token, body)
    time.sleep(2)  # 1 % of 2 minutes: every warning is due
    sweep.delay()
    wait_until(events.exists, WAIT_S, "the sweep to record a warning", every=0.05)
    recorded_then, unnotified_then = events.count(), events.filter(notified_at__isnull=True).count()
    killed = kill_children(stack)
    expected_events = 2 * SLA_TICKETS  # a warning of each clock (breaches come a minute later)

    def complete() -> bool:
        warnings = events.filter(kind="warning")
        return warnings.count() >= expected_events and not warnings.filter(notified_at__isnull=True).exists()

    eventually(complete, SETTLE_S, every=1.0)
    warnings = list(events.filter(kind="warning"))
    keys = {f"sla-event:{event.pk}": len(event.recipients) for event in warnings}
    expected = sum(keys.values())
    rows = list(Notification.objects.filter(event_key__in=keys).select_related("user"))
    mails = sent_mails(stack.mail_dir)
    counts = [mails[(row.user.email, row.title)] for row in rows if row.email]
    missing, duplicated = counts.count(0), sum(max(0, count - 1) for count in counts)
    unnotified = sum(event.notified_at is None for event in warnings)
    hit = unnotified_then > 0
    log(
        f"    killed {killed} children with {recorded_then} events recorded, {unnotified_then} un-notified; "
        f"warnings {len(warnings)} of {expected_events} (un-notified {unnotified}); notifications expected "
        f"{expected}, found {len(rows)}; mails {sum(counts)} (missing {missing}, duplicated {duplicated})"
    )
    ok = (
        hit
        and len(warnings) == expected_events
        and unnotified == 0
        and len(rows) == expected
        and missing == duplicated == 0
    )
    detail = f"hit: {hit}; {len(warnings)}/{expected_events} warnings, {len(rows)}/{expected} notified"
    return [("Worker killed mid-sweep: every SLA warning recorded and notified once", ok, detail)]


def jobs_received(stack: Stack, beats: list[tuple[str, str]]) -> Counter[str]:
    """The periodic jobs the worker received in BEAT_WINDOW_S with ``beats`` (name, scheduler)
    running, started afresh: the window opens BEAT_START_S after the worker received the first
    job of their first tick (every job is due at a fresh beat's first tick)."""
    for name in [name for name in stack.procs if name.startswith("beat")]:
        stack.stop(name)
    worker_log = stack.log_file("worker")
    start = lines_in(worker_log)
    for name, scheduler in beats:
        stack.start(name, scheduler=scheduler)
    wait_until(
        lambda: bool(beat_jobs() & set(worker_log_counts(worker_log, start))), 120, "a first tick", every=0.5
    )
    time.sleep(BEAT_START_S)
    start = lines_in(worker_log)
    time.sleep(BEAT_WINDOW_S)
    received = worker_log_counts(worker_log, start)
    return Counter({name: count for name, count in received.items() if name in beat_jobs()})


def beat_twice(stack: Stack, world: World) -> list[Check]:
    log(f"\n==> 5. beat started twice: periodic jobs the worker received in {BEAT_WINDOW_S} s")
    one = jobs_received(stack, [("beat", "")])
    two = jobs_received(stack, [("beat", ""), ("beat2", "")])
    # for information, what the lock prevents (not in a smoke run: it only costs time there)
    unlocked = None if SMOKE else jobs_received(stack, [("beat", UNLOCKED), ("beat2", UNLOCKED)])
    log(f"    {'job':<32} {'one beat':>9} {'two beats':>10} {'two, no lock' if unlocked else '':>13}")
    for name in sorted(one | two | (unlocked or Counter())):
        log(f"    {name:<32} {one[name]:>9} {two[name]:>10} {unlocked[name] if unlocked else '':>13}")
    worse = {name: (one[name], two[name]) for name in two if two[name] > one[name] + 1}
    without = f"; runs without the lock {unlocked.total()} against {one.total()}" if unlocked else ""
    detail = f"more often with two: {worse or 'none'}{without}"
    return [("Beat running twice doubles no job", bool(one) and not worse, detail)]


SCENARIOS = (
    postgres_restart,
    redis_outage,
    kill_notifications,
    kill_import,
    kill_mail,
    kill_sla_sweep,
    beat_twice,
)


def main() -> int:
    interrupt_on_sigterm()
    started = time.monotonic()
    with Stack(ENV) as stack:
        log(f"==> own PostgreSQL on :{stack.postgres.port}, Valkey on :{stack.redis_port}, in {stack.dir}")
        os.environ.update(stack.env)
        import django

        django.setup()
        log(f"==> periodic jobs in beat's schedule: {', '.join(sorted(beat_jobs()))}")
        from django.core.management import call_command

        log("==> sync_platform, then the world")
        call_command("sync_platform", verbosity=0)
        log(f"    migrated ({time.monotonic() - started:.0f} s)")
        world = seed()
        log(f"    seeded ({time.monotonic() - started:.0f} s)")
        for name in ("web", "mail", "worker", "beat"):  # web and mail first: they wait to serve
            stack.start(name)
        took = time.monotonic() - started
        log(f"==> web :{stack.web_port}, mail :{stack.mail_port}, worker, beat ({took:.0f} s)")
        checks: list[Check] = []
        for scenario in SCENARIOS:
            began = time.monotonic()
            try:
                checks += scenario(stack, world)
                log(f"    ({time.monotonic() - began:.0f} s)")
            except RuntimeError as exc:  # a wait that timed out: the part did not recover
                log(f"    {exc}")
                checks.append((f"{scenario.__name__}: ran to its end", False, str(exc)))
            checks += restart_the_dead(stack, scenario.__name__)
        from django.db import connections

        connections.close_all()
    log(f"==> {time.monotonic() - started:.0f} s; stopped every process and removed the folder")
    print_verdict(checks)
    return 0


def restart_the_dead(stack: Stack, scenario: str) -> list[Check]:
    """A process of the deployment that exited during ``scenario`` is a failure of it; it is
    started again (as docker-compose's restart policy would) so the next scenarios still run."""
    checks: list[Check] = []
    for name, proc in list(stack.procs.items()):
        if proc.poll() is None or name.startswith("beat2"):
            continue
        died = stack.log_file(f"{name}-died-in-{scenario}")
        stack.log_file(name).rename(died)  # kept: the copy of the folder's logs takes it too
        log(f"    {name} exited (code {proc.returncode}) during {scenario}: started again ({died.name})")
        checks.append((f"{scenario}: the {name} process kept running", False, f"exit code {proc.returncode}"))
        stack.start(name)
    return checks


if __name__ == "__main__":
    sys.exit(main())
