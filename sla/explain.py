"""Everything about a ticket's SLA, for people who want to check it: the hierarchy level by
level, the snapshot, the clock timeline with the business minutes of each segment, both clocks
and the warnings and breaches recorded. Also the simulator's rendering of a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sla.calendar import AlwaysOpen, BusinessCalendar, calendar_for
from sla.clocks import ClockView, Segment, segments_from
from sla.engine import clocks_of
from sla.models import SlaEvent
from sla.resolution import policy_steps

if TYPE_CHECKING:
    from tenants.models import Customer
    from tickets.models import Ticket


def minutes(amount: timedelta) -> float:
    return round(amount.total_seconds() / 60, 2)


def segments_json(
    calendar: BusinessCalendar | AlwaysOpen, segments: Sequence[Segment], now: datetime
) -> list[dict[str, Any]]:
    """Each segment with the business minutes it spans (up to ``now`` for the open one)."""
    return [
        {
            **segment.as_json(),
            "business_minutes": minutes(calendar.between(segment.start, segment.end or now)),
        }
        for segment in segments
    ]


def clock_json(view: ClockView, now: datetime) -> dict[str, Any]:
    remaining = view.remaining(now)
    return {
        "target_minutes": view.target,
        "state": view.state,
        "due": view.due,
        "warning_at": view.warn_at,
        "breached": view.breached_at is not None,
        "breached_at": view.breached_at,
        "met": view.met,
        "stopped_at": view.stopped_at,
        "elapsed_minutes": minutes(view.elapsed),
        "remaining_seconds": int(remaining.total_seconds()) if remaining is not None else None,
    }


def sla_explain(*, customer: Customer, ticket: Ticket, now: datetime) -> dict[str, Any]:
    snapshot = ticket.sla_snapshot
    calendar = calendar_for(snapshot.get("business_hours"))
    steps = list(policy_steps(customer, override=ticket.sla_policy, requester=ticket.requester, ci=ticket.ci))
    decided = next((step for step in steps if step.policy_id is not None), None)
    views = clocks_of(ticket, now)
    for clock, view in views.items():  # a recorded breach is a fact even if the clock no longer says so
        fact = getattr(ticket, f"{clock}_breached_at")
        if fact is not None and view.breached_at is None:
            views[clock] = ClockView(**{**vars(view), "breached_at": fact})
    events = SlaEvent.objects.filter(customer=customer, ticket_id=ticket.pk).order_by("id")
    return {
        "policy": snapshot.get("policy"),
        "source": ticket.sla_source,
        "reason": ticket.sla_reason,
        "priority": ticket.priority,
        "chain": [
            {
                "source": step.source,
                "policy": step.policy_id,
                "text": step.text,
                "decides": decided is not None and step is decided,
            }
            for step in steps
        ],
        "resolves_now_to": decided.text if decided is not None else None,
        "snapshot": snapshot,
        "segments": segments_json(calendar, segments_from(ticket.sla_segments), now),
        "clocks": {clock: clock_json(view, now) for clock, view in views.items()},
        "events": [
            {"clock": event.clock, "kind": event.kind, "at": event.at, "recorded_at": event.recorded_at}
            for event in events
        ],
        "generation": ticket.sla_generation,
        "now": now,
    }
