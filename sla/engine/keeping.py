"""A ticket's SLA, kept by the ticket workflows inside their transaction.

``sla_begin`` adopts the resolved policy, takes the snapshot and starts the clocks when a ticket
is opened; ``sla_move`` records a status change on the timeline; ``sla_reresolve`` adopts the
hierarchy's new answer after a change of priority, requester, CI or override (or an admin's
re-apply); the workflows resolve the policy themselves (``tickets.sla.policy``);
``sla_compute`` recomputes the due times and breach facts and ``timers_write`` the ticket's
timers. The ticket's save (by the workflow, with ``SLA_FIELDS``) is then one audit entry with
the old and new policy and dues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sla.engine.calendar import calendar_for
from sla.engine.clocks import (
    CLOCK_STATE,
    CLOCKS,
    FIRST_RESPONSE,
    PAUSED,
    RESOLUTION,
    RUNNING,
    STOPPED,
    ClockView,
    segments_from,
    ticket_clocks,
    timeline_move,
    timeline_start,
)
from sla.engine.resolution import Resolution, policy_snapshot
from sla.models import SlaEventKind, SlaTimer

if TYPE_CHECKING:
    from tenants.models import Customer
    from tickets.models import Ticket

# The ticket fields the engine writes (the workflows add them to update_fields).
SLA_FIELDS = (
    "sla_applied",
    "sla_source",
    "sla_reason",
    "sla_snapshot",
    "sla_segments",
    "sla_generation",
    "sla_recorded",
    "first_response_due",
    "resolution_due",
    "first_response_breached_at",
    "resolution_breached_at",
)


class PolicyTargetsMissing(ValueError):
    pass


def targets_of(snapshot: dict[str, Any], priority: str) -> dict[str, int]:
    try:
        targets = snapshot["targets"][priority]
        return {clock: int(targets[clock]) for clock in CLOCKS}
    except (KeyError, TypeError, ValueError):
        name = (snapshot.get("policy") or {}).get("name", "?")
        raise PolicyTargetsMissing(f"SLA policy '{name}' has no {priority} targets") from None


def _adopt(ticket: Ticket, resolution: Resolution) -> None:
    ticket.sla_applied = resolution.policy
    ticket.sla_source = resolution.source
    ticket.sla_reason = resolution.reason[:300]
    ticket.sla_snapshot = policy_snapshot(resolution.policy)


def sla_begin(*, ticket: Ticket, resolution: Resolution, by: str, now: datetime) -> dict[str, ClockView]:
    """A new ticket (not saved yet): its policy, snapshot and running clocks. The caller writes
    the timers with ``timers_write`` once the ticket has its id."""
    _adopt(ticket, resolution)
    ticket.sla_segments = [segment.as_json() for segment in timeline_start(now, by=by)]
    return sla_compute(ticket, now)


def sla_move(ticket: Ticket, status: str, *, by: str, reason: str, now: datetime) -> None:
    """Record a status change on the clock timeline (open runs, pending pauses, resolved stops)."""
    segments = timeline_move(
        segments_from(ticket.sla_segments), CLOCK_STATE[status], now, by=by, reason=reason
    )
    ticket.sla_segments = [segment.as_json() for segment in segments]


@dataclass(frozen=True)
class Moved:
    """What a re-resolution changed: policy and due times before and after."""

    policy_before: str
    policy_after: str
    first_response_due: tuple[datetime | None, datetime | None]
    resolution_due: tuple[datetime | None, datetime | None]

    @property
    def dues_moved(self) -> bool:
        return any(before != after for before, after in (self.first_response_due, self.resolution_due))

    @property
    def policy_changed(self) -> bool:
        return self.policy_before != self.policy_after


def sla_reresolve(
    *, ticket: Ticket, resolution: Resolution, now: datetime, fresh_snapshot: bool = False
) -> Moved:
    """Adopt the hierarchy's new answer. A different policy brings its own snapshot; the same policy keeps
    the ticket's snapshot (policy edits reach open tickets only by an admin's re-apply, which
    passes ``fresh_snapshot``). A move of a due time starts a new warning generation."""
    before = (ticket.first_response_due, ticket.resolution_due)
    policy_before = str((ticket.sla_snapshot.get("policy") or {}).get("name", ""))
    if fresh_snapshot or resolution.policy.pk != ticket.sla_applied_id:
        _adopt(ticket, resolution)
    else:
        ticket.sla_source, ticket.sla_reason = resolution.source, resolution.reason[:300]
    sla_compute(ticket, now)
    moved = Moved(
        policy_before=policy_before,
        policy_after=resolution.policy.name,
        first_response_due=(before[0], ticket.first_response_due),
        resolution_due=(before[1], ticket.resolution_due),
    )
    if moved.dues_moved:
        ticket.sla_generation += 1
        recorded = dict(ticket.sla_recorded or {})
        for clock, (old, new) in zip(CLOCKS, (moved.first_response_due, moved.resolution_due), strict=True):
            if old != new:
                recorded[f"{clock}:generation"] = warning_generation(ticket, clock) + 1
        ticket.sla_recorded = recorded
    return moved


def warning_generation(ticket: Ticket, clock: str) -> int:
    """How many re-resolutions moved this clock's due time: one warning per generation."""
    return int((ticket.sla_recorded or {}).get(f"{clock}:generation", 0))


def clocks_of(ticket: Ticket, now: datetime) -> dict[str, ClockView]:
    """Both clocks of ``ticket`` evaluated at ``now`` from its snapshot and timeline."""
    snapshot = ticket.sla_snapshot
    return ticket_clocks(
        calendar=calendar_for(snapshot.get("business_hours")),
        segments=segments_from(ticket.sla_segments),
        targets=targets_of(snapshot, ticket.priority),
        warning_percent=int(snapshot.get("warning_percent", 80)),
        responded_at=ticket.first_responded_at,
        now=now,
    )


def sla_compute(ticket: Ticket, now: datetime) -> dict[str, ClockView]:
    """Refresh the stored due times and record breaches that have happened (a breach is a fact:
    once recorded it stays, whatever happens to the ticket later)."""
    views = clocks_of(ticket, now)
    ticket.first_response_due = views[FIRST_RESPONSE].due
    ticket.resolution_due = views[RESOLUTION].due
    for clock, view in views.items():
        field = f"{clock}_breached_at"
        if getattr(ticket, field) is None and view.breached_at is not None and view.breached_at <= now:
            setattr(ticket, field, view.breached_at)
    return views


def wanted_timers(ticket: Ticket, views: dict[str, ClockView]) -> dict[tuple[str, str], datetime]:
    """(clock, kind) -> fire instant: the warnings and breaches the sweep still has to record."""
    recorded = ticket.sla_recorded or {}
    wanted: dict[tuple[str, str], datetime] = {}
    for clock, view in views.items():
        if f"{clock}:{SlaEventKind.BREACH}" not in recorded:
            fact = getattr(ticket, f"{clock}_breached_at")
            fire = fact or (view.due if view.state == RUNNING else None)
            if fire is not None:
                wanted[(clock, SlaEventKind.BREACH)] = fire
        warned = recorded.get(f"{clock}:{SlaEventKind.WARNING}")
        if view.state != STOPPED and view.warn_at is not None and warned != warning_generation(ticket, clock):
            wanted[(clock, SlaEventKind.WARNING)] = view.warn_at
    return wanted


def timers_write(
    *, customer: Customer, ticket: Ticket, views: dict[str, ClockView], created: bool = False
) -> None:
    """Make the public timer rows of ``ticket`` what its clocks need, under the ticket's lock:
    the rows are read, and only what differs is deleted or written. A change that moves no clock
    (a reply, most field changes) costs that one read; a ticket ``created`` in this transaction,
    which has no rows yet, one INSERT."""
    wanted = wanted_timers(ticket, views)
    current: dict[tuple[str, str], tuple[int, datetime]] = {}
    if not created:
        rows = SlaTimer.objects.filter(customer=customer, ticket_id=ticket.pk)
        for pk, clock, kind, fire_at in rows.values_list("pk", "clock", "kind", "fire_at"):
            current[(clock, kind)] = (pk, fire_at)
    stale = [pk for key, (pk, _) in current.items() if key not in wanted]
    if stale:
        SlaTimer.objects.filter(pk__in=stale).delete()
    changed = {key: fire_at for key, fire_at in wanted.items() if current.get(key, (0, None))[1] != fire_at}
    if changed:
        SlaTimer.objects.bulk_create(
            [
                SlaTimer(customer=customer, ticket_id=ticket.pk, clock=clock, kind=kind, fire_at=fire_at)
                for (clock, kind), fire_at in changed.items()
            ],
            update_conflicts=True,
            unique_fields=["customer", "ticket_id", "clock", "kind"],
            update_fields=["fire_at"],
        )


def clock_running(ticket: Ticket, clock: str) -> bool:
    """Cheap (no calendar): is ``clock`` running right now?"""
    segments = ticket.sla_segments
    if not segments or segments[-1]["state"] != RUNNING:
        return False
    if clock == FIRST_RESPONSE:
        stopped = ticket.first_responded_at is not None
        return not stopped and not any(segment["state"] == STOPPED for segment in segments)
    return True


def sla_block(ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """The ``sla`` block of api.md, live: ``breached`` from the stored facts and the current time."""
    if not ticket.sla_snapshot:
        return None

    def breached(clock: str, due: datetime | None) -> bool:
        if getattr(ticket, f"{clock}_breached_at") is not None:
            return True
        return due is not None and clock_running(ticket, clock) and now > due

    segments = ticket.sla_segments
    return {
        "policy": ticket.sla_snapshot.get("policy"),
        "source": ticket.sla_source,
        "reason": ticket.sla_reason,
        "first_response_due": ticket.first_response_due,
        "first_response_at": ticket.first_responded_at,
        "first_response_breached": breached(FIRST_RESPONSE, ticket.first_response_due),
        "resolution_due": ticket.resolution_due,
        "resolved_at": ticket.resolved_at,
        "resolution_breached": breached(RESOLUTION, ticket.resolution_due),
        "paused": bool(segments) and segments[-1]["state"] == PAUSED,
    }
