"""The SLA sweep: record each warning and breach once and tell the people concerned.

It reads the public ``sla_timer`` table through its ``fire_at`` index, so its cost grows with
the clocks that are due, not with tickets or customers. The due timers are taken a page at a
time and recorded a few dozen customers per transaction; per transaction, whatever the number
of customers in it, one statement of each kind (``tenants.across`` names every schema in it):

* the due tickets locked and read from their schemas;
* their clocks evaluated at the current instant (in memory); a warning or breach that really
  happened becomes an ``SlaEvent`` row whose unique key (customer, ticket, clock, kind,
  generation) makes a second recording impossible, whatever runs twice;
* the facts written back to the tickets (``*_breached_at``, ``sla_recorded``) with one audit
  entry per ticket under the job's identity, in each customer's own audit trail;
* the tickets' timers rewritten from their clocks (the fired one disappears, a moved one moves).

Notifications go out afterwards, from the events not yet marked notified: ``notify_many`` is
idempotent per person and event, and each event keeps the recipients chosen when it was
recorded, so a crash anywhere means the next sweep finishes the job without sending anything
twice. A customer whose clocks cannot be evaluated is logged and skipped; its timers wait for the
next sweep. One sweep runs at a time (a PostgreSQL advisory lock held by the sweeping
connection, released by PostgreSQL if the worker dies).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache, partial
from itertools import groupby
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from audit.bulk import update_entries
from audit.models import AuditEntry
from core.parsers import zone_or_utc
from notifications.models import Channel, NotificationKind, Role, RuleEvent
from notifications.rules import BOTH, Roles, Router, customer_roles, provider_admins
from notifications.services import Message, notify_many
from sla.engine.clocks import STOPPED, ClockView
from sla.engine.keeping import SLA_FIELDS, sla_compute, wanted_timers, warning_generation
from sla.engine.resolution import reason_shown
from sla.models import SlaEvent, SlaEventKind, SlaTimer
from tenants.across import rows_insert, rows_lock, rows_update
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.index.services import display_number, index_write_across
from tickets.models import Priority, Ticket
from tickets.notices import mail_subject, screened, ticket_roles_read, ticket_url
from tickets.sla.policy import sla_reader

SWEEP_LOCK = 5_140_001  # pg advisory lock key of the sweep
BATCH = 500  # due timers read at a time
# Customers recorded in one transaction: few commits, yet a bounded number of relation locks
# (each customer's tickets and audit tables with their indexes; see performance.md on
# max_locks_per_transaction).
CUSTOMERS_PER_TRANSACTION = 50

logger = logging.getLogger(__name__)

TicketKey = tuple[int, int]  # (customer id, ticket id)


@dataclass
class SweepResult:
    ran: bool = True
    timers: int = 0
    recorded: int = 0
    notified: int = 0
    failed: list[str] = field(default_factory=list)  # slugs of customers whose timers wait


@dataclass
class Fired:
    """What firing one customer's due timers produced."""

    events: list[SlaEvent] = field(default_factory=list)
    timers: list[SlaTimer] = field(default_factory=list)  # the tickets' timers from now on
    tickets: dict[int, Ticket] = field(default_factory=dict)
    changed: list[tuple[Ticket, Ticket]] = field(default_factory=list)  # (before, after)
    moved: list[Ticket] = field(default_factory=list)  # tickets whose due times moved
    clocks: dict[int, dict[str, ClockView]] = field(default_factory=dict)  # as evaluated now


@contextmanager
def _sweep_lock() -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Fire every timer due at ``now`` (default: the current time), then deliver the recorded
    events not yet notified. Run under a job identity (the task does).

    Due timers are read in pages of ``BATCH`` (keyset on customer and id, so each is seen once
    per sweep) and recorded ``CUSTOMERS_PER_TRANSACTION`` customers per transaction, with one
    statement per kind of write for all of them (``_fire_chunk``)."""
    result = SweepResult()
    with _sweep_lock() as locked:
        if not locked:
            return SweepResult(ran=False)
        at = now or timezone.now()
        admins = cache(provider_admins)  # read once per sweep, if a rule asks for them
        seen: dict[TicketKey, Ticket] = {}
        after = Q()
        while True:
            due = list(
                SlaTimer.objects.filter(after, fire_at__lte=at)
                .select_related("customer__settings")
                .order_by("customer_id", "id")[:BATCH]
            )
            by_customer = [(customer, list(timers)) for customer, timers in groupby(due, key=_customer_of)]
            for start in range(0, len(by_customer), CUSTOMERS_PER_TRANSACTION):
                chunk = by_customer[start : start + CUSTOMERS_PER_TRANSACTION]
                result.recorded += _fire_chunk(chunk, now=at, admins=admins, seen=seen, result=result)
            result.timers += len(due)
            if len(due) < BATCH:
                break
            last = due[-1]
            after = Q(customer_id__gt=last.customer_id) | Q(customer_id=last.customer_id, id__gt=last.pk)
        result.notified = events_deliver(seen=seen)
    return result


def _customer_of(row: SlaTimer | SlaEvent) -> Customer:
    return row.customer


def _fire_chunk(
    chunk: list[tuple[Customer, list[SlaTimer]]],
    *,
    now: datetime,
    admins: Callable[[], list[User]],
    seen: dict[TicketKey, Ticket],
    result: SweepResult,
) -> int:
    """Record the due timers of a few customers in one transaction, with one statement for each
    kind of write across their schemas; returns the events recorded. A customer whose clocks
    cannot be evaluated is logged and left out (its timers stay for the next sweep); the others
    go ahead."""
    customers = {customer.schema_name: customer for customer, _ in chunk}
    due = {customer.schema_name: timers for customer, timers in chunk}
    fired: dict[str, Fired] = {}
    with transaction.atomic():
        locked = rows_lock(
            Ticket, {schema: {timer.ticket_id for timer in timers} for schema, timers in due.items()}
        )
        tickets: dict[str, list[Ticket]] = {}
        for schema, ticket in locked:
            tickets.setdefault(schema, []).append(ticket)
        router = Router.load(customers.values())
        users = User.objects.in_bulk(
            {ticket.assignee_id for _, ticket in locked if ticket.assignee_id is not None}
            | {ticket.requester_user_id for _, ticket in locked}
        )
        for _, ticket in locked:  # what the rules' roles read of each ticket, read at once
            ticket.requester_user = users[ticket.requester_user_id]
            ticket.assignee = users.get(ticket.assignee_id) if ticket.assignee_id is not None else None
        for schema, timers in due.items():
            customer = customers[schema]
            try:
                # inside the schema: the rules' roles read the tickets' collaborators and watchers
                with customer_schema(customer):
                    fired[schema] = timers_fire(
                        customer=customer,
                        timers=timers,
                        tickets=tickets.get(schema, []),
                        now=now,
                        recipients=partial(
                            sla_recipients,
                            customer,
                            router=router,
                            shared=customer_roles(customer, admins=admins),
                        ),
                    )
            except Exception:
                logger.exception("SLA sweep: %s failed; its timers wait for the next sweep", customer.slug)
                result.failed.append(customer.slug)
        # bulk writes send no signals: the audit entries are the ones save() would have written
        rows_update(
            Ticket,
            {schema: [ticket for _, ticket in one.changed] for schema, one in fired.items()},
            SLA_FIELDS,
        )
        rows_insert(
            AuditEntry, {schema: update_entries(one.changed, SLA_FIELDS) for schema, one in fired.items()}
        )
        events = [event for one in fired.values() for event in one.events]
        # The unique key is the guarantee; the ticket lock and sla_recorded make conflicts rare.
        SlaEvent.objects.bulk_create(events, ignore_conflicts=True)
        stale = Q(pk__in=[])
        for schema, one in fired.items():
            stale |= Q(customer=customers[schema], ticket_id__in=list(one.tickets))
        SlaTimer.objects.filter(stale).delete()
        SlaTimer.objects.bulk_create([timer for one in fired.values() for timer in one.timers])
        # The queue's SLA columns (a breach fact, a moved due) change with the tickets: one
        # statement for every customer of the chunk, the requesters' names read at once.
        indexed = [(customers[schema], ticket) for schema, one in fired.items() for _, ticket in one.changed]
        requesters = User.objects.in_bulk({ticket.requester_user_id for _, ticket in indexed})
        for _, ticket in indexed:
            ticket.requester_user = requesters[ticket.requester_user_id]
        index_write_across(
            indexed, clocks={customers[schema].pk: one.clocks for schema, one in fired.items()}
        )
    for schema, one in fired.items():
        seen.update({(customers[schema].pk, pk): ticket for pk, ticket in one.tickets.items()})
    return len(events)


def timers_fire(
    *,
    customer: Customer,
    timers: list[SlaTimer],
    tickets: list[Ticket],
    now: datetime,
    recipients: Callable[[Ticket, str], list[dict[str, Any]]],
) -> Fired:
    """Evaluate the clocks of ``customer``'s locked ``tickets`` at ``now`` for their due
    ``timers``: the facts are set on the tickets in memory and what the caller writes is
    returned (the changed tickets with their copies from before, the events, the timers the
    tickets need from now on). Writes nothing itself."""
    by_ticket: dict[int, list[SlaTimer]] = {}
    for timer in sorted(timers, key=lambda timer: (timer.fire_at, timer.pk)):
        by_ticket.setdefault(timer.ticket_id, []).append(timer)
    fired = Fired()
    for ticket in tickets:
        fired.tickets[ticket.pk] = ticket
        if not ticket.sla_snapshot:
            continue
        before = copy.deepcopy(ticket)
        views = fired.clocks[ticket.pk] = sla_compute(ticket, now)
        for timer in by_ticket.get(ticket.pk, []):
            event = _event_due(ticket, timer, views[timer.clock], now)
            if event is not None:
                event.customer, event.recorded_at = customer, now
                event.recipients = recipients(ticket, timer.kind)
                fired.events.append(event)
        fired.timers += [
            SlaTimer(customer=customer, ticket_id=ticket.pk, clock=clock, kind=kind, fire_at=fire_at)
            for (clock, kind), fire_at in wanted_timers(ticket, views).items()
        ]
        if _sla_values(ticket) != _sla_values(before):
            fired.changed.append((before, ticket))
        if _dues(ticket) != _dues(before):
            fired.moved.append(ticket)
    fired.events.sort(key=lambda event: (event.at, event.ticket_id))
    return fired


SLA_COLUMNS = tuple(field.attname for field in Ticket._meta.concrete_fields if field.name in SLA_FIELDS)


def _sla_values(ticket: Ticket) -> dict[str, Any]:
    """The ticket's SLA fields by column (a policy by id: nothing is loaded to compare)."""
    return {column: getattr(ticket, column) for column in SLA_COLUMNS}


def _dues(ticket: Ticket) -> tuple[datetime | None, datetime | None]:
    return ticket.first_response_due, ticket.resolution_due


def _event_due(ticket: Ticket, timer: SlaTimer, view: ClockView, now: datetime) -> SlaEvent | None:
    """The event ``timer`` stands for, if it happened and is not recorded yet (then it is
    marked recorded on the ticket)."""
    recorded = dict(ticket.sla_recorded or {})
    key = f"{timer.clock}:{timer.kind}"
    if timer.kind == SlaEventKind.BREACH:
        crossed = getattr(ticket, f"{timer.clock}_breached_at")
        if crossed is None or key in recorded:
            return None
        generation = 0
    else:
        generation = warning_generation(ticket, timer.clock)
        if (
            view.warn_at is None
            or view.warn_at > now
            or view.state == STOPPED
            or recorded.get(key) == generation
        ):
            return None
        crossed = view.warn_at
    recorded[key] = generation
    ticket.sla_recorded = recorded
    return SlaEvent(
        ticket_id=ticket.pk,
        clock=timer.clock,
        kind=timer.kind,
        generation=generation,
        at=crossed,
        due=getattr(ticket, f"{timer.clock}_due") or crossed,
    )


SLA_RULE_EVENTS: dict[str, str] = {
    SlaEventKind.WARNING: RuleEvent.SLA_WARNING,
    SlaEventKind.BREACH: RuleEvent.SLA_BREACH,
}


def sla_recipients(
    customer: Customer, ticket: Ticket, kind: str, *, router: Router, shared: Roles
) -> list[dict[str, Any]]:
    """Who hears of a warning or breach of ``ticket``, on which channels, by the customer's
    notification rules (by default: the assignee, or the provider admins while nobody active
    is assigned), as recorded on the event: ``[{"user": id, "channels": [...]}]``. Inside the
    customer's schema; ``shared`` are its customer-wide roles, read once per sweep."""
    roles = ticket_roles_read(customer, ticket, shared=shared)
    recipients = router.route(customer, SLA_RULE_EVENTS[kind], roles, assigned=bool(roles[Role.ASSIGNEE]))
    return [{"user": one.user.pk, "channels": sorted(one.channels)} for one in recipients]


def recorded_recipients(recorded: list[Any]) -> dict[int, frozenset[str]]:
    """An event's recorded recipients by person, with their channels (an id alone, as events
    recorded before the notification rules have it: both channels)."""
    found: dict[int, frozenset[str]] = {}
    for item in recorded:
        if isinstance(item, dict):
            found[int(item["user"])] = frozenset(item.get("channels", BOTH))
        else:
            found[int(item)] = BOTH
    return found


def events_deliver(*, seen: dict[TicketKey, Ticket] | None = None, limit: int = BATCH) -> int:
    """Notify the recipients of recorded events that are not yet marked notified, all in one
    batch (``seen`` holds tickets the sweep already loaded; the others, left by an interrupted
    sweep, are read from their schemas)."""
    pending = list(
        SlaEvent.objects.filter(notified_at__isnull=True)
        .select_related("customer__settings")
        .order_by("customer_id", "id")[:limit]
    )
    if not pending:
        return 0
    tickets = dict(seen or {})
    for customer, events in groupby(pending, key=_customer_of):
        missing = {event.ticket_id for event in events if (customer.pk, event.ticket_id) not in tickets}
        if missing:
            with customer_schema(customer):
                found = Ticket.objects.in_bulk(missing)
            tickets |= {(customer.pk, pk): ticket for pk, ticket in found.items()}
    told = {event.pk: recorded_recipients(event.recipients) for event in pending}
    people = User.objects.in_bulk({pk for recipients in told.values() for pk in recipients})
    deliveries = [
        (
            people[pk],
            replace(
                _message(event.customer, ticket, event, people[pk]),
                in_app=Channel.IN_APP in channels,
                email=Channel.EMAIL in channels,
                urgent=event.kind == SlaEventKind.BREACH or ticket.priority == Priority.P1,
            ),
            f"sla-event:{event.pk}",
        )
        for event in pending
        if (ticket := tickets.get((event.customer_id, event.ticket_id))) is not None
        for pk, channels in told[event.pk].items()
        if pk in people
    ]
    sent = notify_many(screened(deliveries))
    SlaEvent.objects.filter(pk__in=[event.pk for event in pending], notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    return sent


CLOCK_NAMES = {"first_response": "first response", "resolution": "resolution"}


def _message(customer: Customer, ticket: Ticket, event: SlaEvent, user: User) -> Message:
    number = display_number(customer, ticket.number)
    clock = CLOCK_NAMES[event.clock]
    due = event.due.astimezone(zone_or_utc(user.timezone)).strftime("%a %d %b %H:%M %Z")
    if event.kind == SlaEventKind.BREACH:
        kind, title = NotificationKind.SLA_BREACH, f"[{number}] SLA breached ({clock}): {ticket.subject}"
        body = f"The {clock} target was due {due} and was missed."
    else:
        kind, title = (
            NotificationKind.SLA_WARNING,
            f"[{number}] SLA warning ({clock} due {due}): {ticket.subject}",
        )
        body = f"The {clock} clock has used its warning share of the target; it is due {due}."
    policy = (ticket.sla_snapshot.get("policy") or {}).get("name", "")
    reason = reason_shown(ticket.sla_source, ticket.sla_reason, policy, sla_reader(user))
    return Message(
        kind=kind,
        customer=customer,
        title=title[:300],
        body=f"{body}\nPolicy: {policy} ({reason}).",
        url=ticket_url(customer, ticket, user),
        ticket_id=ticket.pk,
        ticket_number=number,
        subject=mail_subject(number, ticket),
    )
