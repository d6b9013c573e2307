"""Writing the unified index. Called by the ticket workflows inside their transaction (the
index row commits or rolls back with the ticket) and by the rebuild command."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from psycopg.types.range import Range

from core.parsers import zone_or_utc
from sla.engine.clocks import FIRST_RESPONSE, PAUSED, RESOLUTION, STOPPED, ClockView, segments_from
from sla.engine.keeping import clocks_of
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.index.models import NO_DUE, TicketIndexEntry
from tickets.models import Party, RequestType, Ticket

# A ticket's clocks as the workflow or the sweep just evaluated them (ticket id -> clock -> view),
# so the index does not evaluate them again.
Clocks = Mapping[int, Mapping[str, ClockView]]

# The columns derived from a ticket (everything but the keys).
PROJECTED = (
    "number",
    "subject",
    "status",
    "priority",
    "assignee_id",
    "requester_name",
    "created_at",
    "updated_at",
    "first_response_due",
    "resolution_due",
    "due_sort",
    "sla_source",
    "sla_clock",
    "sla_due",
    "sla_warn_at",
    "sla_paused",
    "sla_breached_at",
    "next_due_sort",
    "last_public_from",
    "customer_replied",
    "request_type_name",
    "fields",
    "created_month",
    "first_response_ended_at",
    "first_response_ended_month",
    "first_response_breached_at",
    "first_response_breached_month",
    "resolution_ended_at",
    "resolution_ended_month",
    "resolution_breached_at",
    "resolution_breached_month",
    "last_resolved_at",
    "last_resolved_month",
    "earlier_resolved_months",
    "active_until",
    "active_until_month",
    "stopped_spans",
)


def ticket_prefix(customer: Customer) -> str:
    """The customer's ticket prefix (``ACME``), read once per customer object."""
    return str(customer.settings.ticket_prefix)


def display_number(customer: Customer, number: int) -> str:
    return f"{ticket_prefix(customer)}-{number}"


def shown_clock(ticket: Ticket, views: Mapping[str, ClockView] | None) -> dict[str, Any]:
    """The SLA columns of the queue: the clock it shows (the earlier due of the running clocks:
    first response counts until it is met), that clock's due and warning instants, paused, and
    the first breach recorded.
    Due and warning instants depend on the timeline only, never on the current instant, so the
    rebuild command compares them exactly."""
    breaches = [at for at in (ticket.first_response_breached_at, ticket.resolution_breached_at) if at]
    shown: ClockView | None = None
    if ticket.sla_snapshot and ticket.sla_segments:
        views = views or clocks_of(ticket, timezone.now())
        running = [views[clock] for clock in (FIRST_RESPONSE, RESOLUTION) if views[clock].state != STOPPED]
        # the one due first (first response wins a tie, and while no due is known)
        shown = min(running, key=lambda view: (view.due is None, view.due or NO_DUE), default=None)
    due: datetime | None = shown.due if shown else None
    return {
        "sla_clock": shown.clock if shown else "",
        "sla_due": due,
        "sla_warn_at": shown.warn_at if shown else None,
        "sla_paused": bool(shown and shown.state == PAUSED),
        "sla_breached_at": min(breaches, default=None),
        "next_due_sort": due or NO_DUE,
    }


def month_key(at: datetime, zone: ZoneInfo) -> int:
    """``at``'s calendar month in ``zone`` as YYYYMM."""
    local = at.astimezone(zone)
    return local.year * 100 + local.month


def month_facts(customer: Customer, ticket: Ticket, views: Mapping[str, ClockView] | None) -> dict[str, Any]:
    """What the monthly figures read of a ticket (spec/reports.md), from its SLA timeline and
    the breaches recorded on it; never from the current instant, so the rebuild compares them.
    A clock ends at its breach (a breach stays one when the ticket is resolved later) or, unbreached,
    at its stop (a merged duplicate's clocks end only by a breach); a ticket is resolved in each
    month in which its timeline moved to resolved: the month of its last resolution, and the
    other months listed."""
    segments = segments_from(ticket.sla_segments)
    facts: dict[str, Any] = {}
    if ticket.sla_snapshot and segments:
        views = views or clocks_of(ticket, timezone.now())
        for clock, prefix in ((FIRST_RESPONSE, "first_response"), (RESOLUTION, "resolution")):
            view = views[clock]
            stopped = view.state == STOPPED
            breached = getattr(ticket, f"{prefix}_breached_at") or (view.breached_at if stopped else None)
            facts[f"{prefix}_breached_at"] = breached
            # A merged duplicate's clocks stopped because it was merged, not served: only a
            # breach before that counts.
            stop = view.stopped_at if stopped and ticket.merged_into_id is None else None
            facts[f"{prefix}_ended_at"] = breached or stop
    else:
        for prefix in ("first_response", "resolution"):
            facts[f"{prefix}_breached_at"] = facts[f"{prefix}_ended_at"] = None
    zone = zone_or_utc(customer.timezone)
    resolutions = [s.start for s in segments if s.state == STOPPED and s.reason == "resolved"]
    if not segments and ticket.resolved_at is not None:
        resolutions = [ticket.resolved_at]
    last = max(resolutions, default=None)
    facts["last_resolved_at"] = last
    months = {month_key(at, zone) for at in resolutions}
    facts["earlier_resolved_months"] = sorted(months - ({month_key(last, zone)} if last else set()))
    final = segments[-1] if segments else None
    if final is not None and final.state == STOPPED:
        facts["active_until"] = final.start
    elif final is None and ticket.status in ("resolved", "closed"):
        facts["active_until"] = ticket.resolved_at or ticket.closed_at or ticket.updated_at
    else:
        facts["active_until"] = NO_DUE
    for name in (
        "first_response_ended",
        "first_response_breached",
        "resolution_ended",
        "resolution_breached",
        "last_resolved",
    ):
        at = facts[f"{name}_at"]
        facts[f"{name}_month"] = month_key(at, zone) if at is not None else None
    facts["created_month"] = month_key(ticket.created_at, zone)
    until = facts["active_until"]
    facts["active_until_month"] = month_key(until, zone) if until < NO_DUE else 999912
    facts["stopped_spans"] = [
        Range(s.start, s.end, "[)") for s in segments if s.state == STOPPED and s.end is not None
    ]
    return facts


def request_type_name(ticket: Ticket) -> str:
    """The name of the ticket's request type (read from the active schema unless loaded)."""
    return ticket.request_type.name if ticket.request_type is not None else ""


def _type_names(tickets: list[tuple[Customer, Ticket]]) -> dict[tuple[int, int], str]:
    """(customer id, ticket id) -> its request type's name, for tickets whose type is not
    loaded: one query per customer that has some, in its own schema (the SLA sweep writes the
    rows of several customers from the public schema)."""
    wanted: dict[int, tuple[Customer, list[Ticket]]] = {}
    for customer, ticket in tickets:
        if ticket.request_type_id is not None and not _TYPE_FIELD.is_cached(ticket):
            wanted.setdefault(customer.pk, (customer, []))[1].append(ticket)
    names: dict[tuple[int, int], str] = {}
    for customer, typed in wanted.values():
        with customer_schema(customer):
            ids = {ticket.request_type_id for ticket in typed}
            found = dict(RequestType.objects.filter(pk__in=ids).values_list("pk", "name"))
        names |= {(customer.pk, ticket.pk): found.get(ticket.request_type_id or 0, "") for ticket in typed}
    return names


_TYPE_FIELD = Ticket._meta.get_field("request_type")


def projection(
    customer: Customer,
    ticket: Ticket,
    views: Mapping[str, ClockView] | None = None,
    *,
    type_name: str | None = None,
) -> dict[str, Any]:
    """What the index holds for ``ticket`` (its requester_user must be loaded or loadable, and
    so must its request type unless ``type_name`` is given; ``views``: its clocks if the caller
    just evaluated them)."""
    resolution_due = ticket.resolution_due
    return {
        "number": display_number(customer, ticket.number),
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee_id": ticket.assignee_id,
        "requester_name": ticket.requester_user.name,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_due": getattr(ticket, "first_response_due", None),
        "resolution_due": resolution_due,
        "due_sort": resolution_due or NO_DUE,
        "sla_source": ticket.sla_source or "",
        **shown_clock(ticket, views),
        "last_public_from": ticket.last_public_from,
        "customer_replied": (
            ticket.last_public_from == Party.CUSTOMER and ticket.first_responded_at is not None
        ),
        "request_type_name": type_name if type_name is not None else request_type_name(ticket),
        "fields": ticket.fields,
        **month_facts(customer, ticket, views),
    }


def index_write(*, customer: Customer, tickets: Iterable[Ticket], clocks: Clocks | None = None) -> None:
    """Insert or update the index rows of ``tickets`` in one statement."""
    index_write_across([(customer, ticket) for ticket in tickets], clocks={customer.pk: clocks or {}})


def index_write_across(
    tickets: Iterable[tuple[Customer, Ticket]], *, clocks: Mapping[int, Clocks] | None = None
) -> None:
    """The index rows of tickets of several customers in one statement (the SLA sweep);
    ``clocks``: customer id -> the tickets' clocks already evaluated."""
    known = clocks or {}
    tickets = list(tickets)
    names = _type_names(tickets)
    rows = [
        TicketIndexEntry(
            customer=customer,
            ticket_id=ticket.pk,
            **projection(
                customer,
                ticket,
                known.get(customer.pk, {}).get(ticket.pk),
                type_name=names.get((customer.pk, ticket.pk)),
            ),
        )
        for customer, ticket in tickets
    ]
    if rows:
        TicketIndexEntry.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["customer", "ticket_id"],
            update_fields=[name.removesuffix("_id") for name in PROJECTED],
        )


@dataclass
class Drift:
    """What the index (or its search rows, ``tickets.index.search``) got wrong for one customer."""

    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.missing or self.stale or self.orphaned)


def index_compare(*, customer: Customer, batch_size: int = 2000) -> tuple[Drift, list[Ticket]]:
    """Compare the index with the tickets of ``customer`` (run inside its schema). Returns the
    drift and the tickets whose rows must be (re)written."""
    drift = Drift()
    to_write: list[Ticket] = []
    indexed = {
        row["ticket_id"]: row
        for row in TicketIndexEntry.objects.filter(customer=customer).values("ticket_id", *PROJECTED)
    }
    tickets = Ticket.objects.select_related("requester_user", "request_type").order_by("pk")
    for ticket in tickets.iterator(chunk_size=batch_size):
        row = indexed.pop(ticket.pk, None)
        if row is None:
            drift.missing.append(ticket.pk)
            to_write.append(ticket)
        elif any(row[name] != value for name, value in projection(customer, ticket).items()):
            drift.stale.append(ticket.pk)
            to_write.append(ticket)
    drift.orphaned = sorted(indexed)
    return drift, to_write


def index_repair(*, customer: Customer, to_write: list[Ticket], orphaned: list[int]) -> None:
    index_write(customer=customer, tickets=to_write)
    if orphaned:
        TicketIndexEntry.objects.filter(customer=customer, ticket_id__in=orphaned).delete()
