"""The SLA sweep: record each warning and breach once and tell the people concerned.

It reads the public ``sla_timer`` table through its ``fire_at`` index, so its cost grows with
the clocks that are due, not with tickets or customers. For each due timer it enters that
customer's schema, locks the ticket, evaluates the clock at the current instant and, if the
warning or breach has really happened, records it:

* an ``SlaEvent`` row whose unique key (customer, ticket, clock, kind, generation) makes a second
  recording impossible, whatever runs twice;
* the fact on the ticket (``*_breached_at``, ``sla_recorded``), saved under the job's identity,
  which is the audit entry;
* the ticket's timers rewritten from its clocks (the fired one disappears, a moved one moves),

all in one transaction. Notifications go out afterwards, from the events not yet marked
notified: ``notify_many`` is idempotent per person and event, and each event keeps the recipients
chosen when it was recorded, so a crash anywhere means the next sweep finishes the job without
sending anything twice. One sweep runs at a time (a PostgreSQL advisory lock held by the
sweeping connection, released by PostgreSQL if the worker dies).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User, UserKind
from notifications.models import NotificationKind
from notifications.services import Message, notify_many
from sla.clocks import STOPPED, ClockView
from sla.engine import SLA_FIELDS, sla_compute, wanted_timers, warning_generation
from sla.models import SlaEvent, SlaEventKind, SlaTimer
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.index.services import display_number, index_write
from tickets.models import Ticket
from tickets.tasks import ticket_url

SWEEP_LOCK = 5_140_001  # pg advisory lock key of the sweep
BATCH = 500


@dataclass
class SweepResult:
    ran: bool = True
    timers: int = 0
    recorded: int = 0
    notified: int = 0


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
    events not yet notified. Run under a job identity (the task does)."""
    result = SweepResult()
    with _sweep_lock() as locked:
        if not locked:
            return SweepResult(ran=False)
        at = now or timezone.now()
        admins = _provider_admins()
        while True:
            due = list(
                SlaTimer.objects.filter(fire_at__lte=at)
                .select_related("customer")
                .order_by("customer_id", "fire_at", "id")[:BATCH]
            )
            for customer, timers in groupby(due, key=lambda timer: timer.customer):
                batch = list(timers)
                with customer_schema(customer):
                    result.recorded += timers_fire(customer=customer, timers=batch, now=at, admins=admins)
                result.timers += len(batch)
            if len(due) < BATCH:
                break
        result.notified = events_deliver()
    return result


def timers_fire(*, customer: Customer, timers: list[SlaTimer], now: datetime, admins: list[int]) -> int:
    """Record what the due ``timers`` of one customer stand for, where it happened, in one
    transaction; returns how many events were recorded."""
    by_ticket: dict[int, list[SlaTimer]] = {}
    for timer in timers:
        by_ticket.setdefault(timer.ticket_id, []).append(timer)
    with transaction.atomic():
        tickets = list(
            Ticket.objects.select_for_update(of=("self",)).select_related("assignee").filter(pk__in=by_ticket)
        )
        events: list[SlaEvent] = []
        views_of: dict[int, dict[str, ClockView]] = {}
        moved: list[Ticket] = []
        for ticket in tickets:
            if not ticket.sla_snapshot:
                continue
            dues_before = (ticket.first_response_due, ticket.resolution_due)
            views = views_of[ticket.pk] = sla_compute(ticket, now)
            for timer in by_ticket[ticket.pk]:
                event = _event_due(ticket, timer, views[timer.clock], now)
                if event is not None:
                    event.customer, event.recorded_at = customer, now
                    event.recipients = _recipients(ticket, admins)
                    events.append(event)
            ticket.save(update_fields=list(SLA_FIELDS))  # the audit entry, under the job's name
            if (ticket.first_response_due, ticket.resolution_due) != dues_before:
                moved.append(ticket)
        # The unique key is the guarantee; the ticket lock and sla_recorded make conflicts rare.
        SlaEvent.objects.bulk_create(events, ignore_conflicts=True)
        SlaTimer.objects.filter(customer=customer, ticket_id__in=by_ticket).delete()
        SlaTimer.objects.bulk_create(
            [
                SlaTimer(customer=customer, ticket_id=ticket.pk, clock=clock, kind=kind, fire_at=fire_at)
                for ticket in tickets
                if ticket.pk in views_of
                for (clock, kind), fire_at in wanted_timers(ticket, views_of[ticket.pk]).items()
            ]
        )
        index_write(customer=customer, tickets=moved)
    return len(events)


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


def _provider_admins() -> list[int]:
    return sorted(
        User.objects.filter(is_active=True, kind=UserKind.PROVIDER_ADMIN).values_list("pk", flat=True)
    )


def _recipients(ticket: Ticket, admins: list[int]) -> list[int]:
    """The assignee, or the provider admins when nobody is assigned."""
    if ticket.assignee is not None and ticket.assignee.is_active:
        return [ticket.assignee.pk]
    return admins


def events_deliver(limit: int = BATCH) -> int:
    """Notify the recipients of recorded events that are not yet marked notified."""
    sent = 0
    pending = list(
        SlaEvent.objects.filter(notified_at__isnull=True)
        .select_related("customer")
        .order_by("customer_id", "id")[:limit]
    )
    for customer, events in groupby(pending, key=lambda event: event.customer):
        with customer_schema(customer):
            sent += events_deliver_for(customer=customer, events=list(events))
    return sent


def events_deliver_for(*, customer: Customer, events: list[SlaEvent]) -> int:
    tickets = Ticket.objects.in_bulk({event.ticket_id for event in events})
    people = User.objects.in_bulk({pk for event in events for pk in event.recipients})
    deliveries = [
        (people[pk], _message(customer, tickets[event.ticket_id], event, people[pk]), f"sla-event:{event.pk}")
        for event in events
        if event.ticket_id in tickets
        for pk in event.recipients
        if pk in people
    ]
    sent = notify_many(deliveries)
    SlaEvent.objects.filter(pk__in=[event.pk for event in events], notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    return sent


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


CLOCK_NAMES = {"first_response": "first response", "resolution": "resolution"}


def _message(customer: Customer, ticket: Ticket, event: SlaEvent, user: User) -> Message:
    number = display_number(customer, ticket.number)
    clock = CLOCK_NAMES[event.clock]
    due = event.due.astimezone(_zone(user.timezone)).strftime("%a %d %b %H:%M %Z")
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
    return Message(
        kind=kind,
        customer=customer,
        title=title[:300],
        body=f"{body}\nPolicy: {policy} ({ticket.sla_reason}).",
        url=ticket_url(customer, ticket, user),
        ticket_id=ticket.pk,
        ticket_number=number,
    )
