"""Re-applying SLAs to a customer's open tickets: an admin's explicit, audited action.

Policies are snapshotted onto tickets, so editing a policy (or a customer's default, a user's
override, a CI's policy) changes new tickets only. ``reapply_preview`` shows which open tickets
would move and by how much; ``reapply_commit`` applies exactly that preview: it recomputes and
refuses (409 ``stale_preview``) if anything changed since, so nobody commits what they did not
see. Each moved ticket is saved under the admin's name (one audit entry with old and new
policy and due times) and its timers and index row follow in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import transaction

from accounts.models import User
from core.errors import RuleViolation
from sla.engine.keeping import SLA_FIELDS, sla_compute, sla_reresolve, timers_write
from tenants.models import Customer
from tenants.schema import require_schema
from tickets.index.services import display_number, index_write
from tickets.models import ACTIVE_STATUSES, Ticket
from tickets.sla.policy import ticket_resolution


@dataclass(frozen=True)
class Move:
    ticket_id: int
    number: str
    subject: str
    policy_before: str
    policy_after: str
    reason_after: str
    first_response_due: tuple[datetime | None, datetime | None]
    resolution_due: tuple[datetime | None, datetime | None]

    @property
    def shift_minutes(self) -> int | None:
        """How far the resolution due time moves (later is positive)."""
        before, after = self.resolution_due
        if before is None or after is None:
            return None
        return round((after - before).total_seconds() / 60)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "shift_minutes": self.shift_minutes}


@dataclass(frozen=True)
class Preview:
    moves: list[Move]
    open_tickets: int
    refreshed: int = 0  # open tickets whose snapshot is renewed without any due time moving

    @property
    def fingerprint(self) -> str:
        """Names exactly this preview; the commit must present it."""
        moves = [move.as_dict() for move in self.moves]
        text = json.dumps([moves, self.refreshed], default=str, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _open_tickets(*, lock: bool) -> list[Ticket]:
    tickets = Ticket.objects.filter(status__in=ACTIVE_STATUSES).select_related(
        "requester__user", "requester_user", "ci", "sla_policy"
    )
    if lock:
        tickets = tickets.select_for_update(of=("self",))
    return list(tickets.order_by("id"))


def _promise(snapshot: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in snapshot.items() if key != "taken_at"}


def _moves(
    customer: Customer, tickets: list[Ticket], now: datetime
) -> tuple[list[tuple[Ticket, Move]], list[Ticket]]:
    """The tickets whose policy or due times move, and those whose snapshot alone changes (the
    policy was edited in a way that does not touch their priority): both are saved."""
    moved: list[tuple[Ticket, Move]] = []
    refreshed: list[Ticket] = []
    for ticket in tickets:
        before_snapshot = _promise(ticket.sla_snapshot)
        change = sla_reresolve(
            ticket=ticket, resolution=ticket_resolution(customer, ticket), now=now, fresh_snapshot=True
        )
        if not (change.dues_moved or change.policy_changed):
            if before_snapshot != _promise(ticket.sla_snapshot):
                refreshed.append(ticket)
            continue
        moved.append(
            (
                ticket,
                Move(
                    ticket_id=ticket.pk,
                    number=display_number(customer, ticket.number),
                    subject=ticket.subject,
                    policy_before=change.policy_before,
                    policy_after=change.policy_after,
                    reason_after=ticket.sla_reason,
                    first_response_due=change.first_response_due,
                    resolution_due=change.resolution_due,
                ),
            )
        )
    return moved, refreshed


def reapply_preview(*, customer: Customer, now: datetime) -> Preview:
    """What re-applying would change (nothing is saved)."""
    require_schema(customer, "SLAs")
    tickets = _open_tickets(lock=False)
    moved, refreshed = _moves(customer, tickets, now)
    return Preview(moves=[move for _, move in moved], open_tickets=len(tickets), refreshed=len(refreshed))


def reapply_commit(*, customer: Customer, by: User, fingerprint: str, now: datetime) -> Preview:
    """Apply the previewed changes; 409 if the preview no longer matches."""
    require_schema(customer, "SLAs")
    with transaction.atomic():
        tickets = _open_tickets(lock=True)
        moved, refreshed = _moves(customer, tickets, now)
        preview = Preview(
            moves=[move for _, move in moved], open_tickets=len(tickets), refreshed=len(refreshed)
        )
        if preview.fingerprint != fingerprint:
            raise RuleViolation(
                "stale_preview",
                "The tickets changed since this preview was made; look at the new preview and confirm again.",
                status=409,
            )
        changed = [ticket for ticket, _ in moved] + refreshed
        clocks = {}
        for ticket in changed:
            clocks[ticket.pk] = views = sla_compute(ticket, now)
            ticket.save(update_fields=list(SLA_FIELDS))
            timers_write(customer=customer, ticket=ticket, views=views)
        index_write(customer=customer, tickets=changed, clocks=clocks)
    return preview
