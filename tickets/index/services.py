"""Writing the unified index. Called by the ticket workflows inside their transaction (the
index row commits or rolls back with the ticket) and by the rebuild command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tenants.models import Customer
from tickets.index.models import NO_DUE, TicketIndexEntry
from tickets.models import Ticket

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
)


def ticket_prefix(customer: Customer) -> str:
    """The customer's ticket prefix (``ACME``), read once per customer object."""
    return str(customer.settings.ticket_prefix)


def display_number(customer: Customer, number: int) -> str:
    return f"{ticket_prefix(customer)}-{number}"


def projection(customer: Customer, ticket: Ticket) -> dict[str, Any]:
    """What the index holds for ``ticket`` (its requester_user must be loaded or loadable)."""
    resolution_due = getattr(ticket, "resolution_due", None)  # arrives with the SLA engine
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
        "sla_source": getattr(ticket, "sla_source", "") or "",
    }


def index_write(*, customer: Customer, tickets: Iterable[Ticket]) -> None:
    """Insert or update the index rows of ``tickets`` in one statement."""
    rows = [
        TicketIndexEntry(customer=customer, ticket_id=ticket.pk, **projection(customer, ticket))
        for ticket in tickets
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
    """What the index got wrong for one customer."""

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
    tickets = Ticket.objects.select_related("requester_user").order_by("pk")
    for ticket in tickets.iterator(chunk_size=batch_size):
        row = indexed.pop(ticket.pk, None)
        expected = projection(customer, ticket)
        if row is None:
            drift.missing.append(ticket.pk)
            to_write.append(ticket)
        elif any(row[name] != value for name, value in expected.items()):
            drift.stale.append(ticket.pk)
            to_write.append(ticket)
    drift.orphaned = sorted(indexed)
    return drift, to_write


def index_repair(*, customer: Customer, to_write: list[Ticket], orphaned: list[int]) -> None:
    index_write(customer=customer, tickets=to_write)
    if orphaned:
        TicketIndexEntry.objects.filter(customer=customer, ticket_id__in=orphaned).delete()
