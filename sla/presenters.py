"""SLA on the pages and in the API, arranged for people: the explanation of a ticket's SLA (the
hierarchy level by level, the snapshot, the timeline with the business minutes of each segment,
both clocks, the warnings and breaches recorded), the console's SLA card, what the portal tells a
customer about their ticket, a profile's hours in a line, and the simulator's result.

The numbers all come from the engine (``sla.engine``); this module only arranges them, so the
pages and the API cannot disagree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sla.engine.calendar import AlwaysOpen, BusinessCalendar, calendar_for
from sla.engine.clocks import FIRST_RESPONSE, PAUSED, RESOLUTION, Clock, ClockView, Segment, segments_from
from sla.engine.keeping import PolicyTargetsMissing, clocks_of, targets_of
from sla.engine.resolution import FULL_VIEW, SlaReader, reason_shown, step_text_shown
from sla.engine.simulate import Simulation
from sla.models import PolicySource, SlaEvent, SlaEventKind
from sla.templatetags.sla_tags import business_span
from tickets.sla.policy import ticket_policy_steps

if TYPE_CHECKING:
    from tenants.models import Customer
    from tickets.models import Ticket

CLOCK_LABELS: dict[str, str] = {str(clock): str(clock.label) for clock in Clock}
DASH = "\u2013"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- the explanation ---------------------------------------------------------------------------------


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


def sla_explain(
    *, customer: Customer, ticket: Ticket, now: datetime, reader: SlaReader = FULL_VIEW
) -> dict[str, Any]:
    """Why the ticket runs on its policy and how its clocks ran, as ``reader`` may know it:
    provider staff get the hierarchy level by level and the whole snapshot; customer-side
    readers only the ticket's own policy, the targets of its priority, the clocks, the timeline
    and the breaches (nothing of other levels, other policies or other priorities)."""
    snapshot = ticket.sla_snapshot
    calendar = calendar_for(snapshot.get("business_hours"))
    views = clocks_of(ticket, now)
    for clock, view in views.items():  # a recorded breach is a fact even if the clock no longer says so
        fact = getattr(ticket, f"{clock}_breached_at")
        if fact is not None and view.breached_at is None:
            views[clock] = ClockView(**{**vars(view), "breached_at": fact})
    events = SlaEvent.objects.filter(customer=customer, ticket_id=ticket.pk).order_by("id")
    if not reader.hierarchy:
        events = events.filter(kind=SlaEventKind.BREACH)
    policy = snapshot.get("policy")
    shown: dict[str, Any] = {
        "policy": policy,
        "source": ticket.sla_source,
        "reason": reason_shown(ticket.sla_source, ticket.sla_reason, (policy or {}).get("name", ""), reader),
        "priority": ticket.priority,
        "segments": segments_json(calendar, segments_from(ticket.sla_segments), now),
        "clocks": {clock: clock_json(view, now) for clock, view in views.items()},
        "events": [
            {"clock": event.clock, "kind": event.kind, "at": event.at, "recorded_at": event.recorded_at}
            for event in events
        ],
        "now": now,
    }
    if not reader.hierarchy:
        return shown | {
            "targets": _priority_targets(snapshot, ticket.priority),
            "hours_text": schedule_text(snapshot.get("business_hours")),
        }
    steps = list(ticket_policy_steps(customer, ticket))
    decided = next((step for step in steps if step.policy_id is not None), None)
    return shown | {
        "chain": [
            {
                "source": step.source,
                "policy": step.policy_id,
                "text": step_text_shown(step, reader),
                "decides": decided is not None and step is decided,
            }
            for step in steps
        ],
        "resolves_now_to": step_text_shown(decided, reader) if decided is not None else None,
        "snapshot": snapshot,
        "generation": ticket.sla_generation,
    }


def _priority_targets(snapshot: dict[str, Any], priority: str) -> dict[str, int] | None:
    try:
        return targets_of(snapshot, priority)
    except PolicyTargetsMissing:
        return None


# --- the console ticket's SLA card ------------------------------------------------------------------


def ticket_sla_card(
    *, customer: Customer, ticket: Ticket, now: datetime, reader: SlaReader = FULL_VIEW
) -> dict[str, Any] | None:
    """Everything ``sla_explain`` tells ``reader`` about ``ticket``, labelled for the console's SLA card."""
    if not ticket.sla_snapshot:
        return None
    explained = sla_explain(customer=customer, ticket=ticket, now=now, reader=reader)
    snapshot = ticket.sla_snapshot
    profile = snapshot.get("business_hours")
    return explained | {
        "source_label": _source_label(explained["source"]),
        "chain": [step | {"label": _source_label(step["source"])} for step in explained.get("chain", [])],
        "clock_list": [
            {"name": name, "label": CLOCK_LABELS[name], **clock}
            for name, clock in explained["clocks"].items()
        ],
        "profile": profile,
        "hours_text": schedule_text(profile),
        "warning_percent": snapshot.get("warning_percent", 80),
        "events": [
            event | {"clock_label": CLOCK_LABELS.get(event["clock"], event["clock"])}
            for event in explained["events"]
        ],
    }


def _source_label(source: str) -> str:
    return str(PolicySource(source).label) if source in PolicySource.values else source


def schedule_text(profile: Mapping[str, Any] | None) -> str:
    """A business-hours profile in a line, "Mon-Fri 09:00-17:00 (Europe/London)" (with en dashes),
    or 24x7 without one."""
    if not profile:
        return "24x7 (every minute counts)"
    schedule = profile.get("schedule") or {}
    groups: list[tuple[list[str], str]] = []  # consecutive days with the same hours
    for day in WEEKDAYS:
        hours = ", ".join(f"{start}{DASH}{end}" for start, end in schedule.get(day) or [])
        if not hours:
            continue
        if groups and groups[-1][1] == hours and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    days = "; ".join(
        f"{_day(names[0])}{DASH}{_day(names[-1])} {hours}" if len(names) > 1 else f"{_day(names[0])} {hours}"
        for names, hours in groups
    )
    return f"{days} ({profile.get('timezone', 'UTC')})"


def _day(name: str) -> str:
    return name.capitalize()


# --- the portal: what the customer is promised ---------------------------------------------------------


def portal_sla(*, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """The customer's view of their ticket's SLA: the promise for its priority, the due times,
    the pauses that did not count and any breach, and nothing of how the policy was chosen."""
    snapshot = ticket.sla_snapshot
    if not snapshot:
        return None
    try:
        targets = targets_of(snapshot, ticket.priority)
    except PolicyTargetsMissing:
        return None
    profile = snapshot.get("business_hours")
    note = "of business time" if profile else "around the clock"
    views = clocks_of(ticket, now)
    clocks = []
    for name, view in views.items():
        clock = clock_json(view, now)
        fact = getattr(ticket, f"{name}_breached_at")
        if fact is not None:
            clock |= {"breached": True, "breached_at": fact}
        clocks.append(
            clock
            | {
                "name": name,
                "label": CLOCK_LABELS[name],
                "promise": f"{CLOCK_LABELS[name].lower()} within {business_span(targets[name])} {note}",
            }
        )
    segments = segments_json(calendar_for(profile), segments_from(ticket.sla_segments), now)
    pauses = [
        {"start": segment["start"], "end": segment["end"], "business_minutes": segment["business_minutes"]}
        for segment in segments
        if segment["state"] == PAUSED
    ]
    return {
        "policy_name": (snapshot.get("policy") or {}).get("name", ""),
        "priority": ticket.priority,
        "clocks": clocks,
        "hours_text": schedule_text(profile),
        "pauses": pauses,
        "paused_minutes": round(sum(pause["business_minutes"] for pause in pauses), 2),
        "paused_now": bool(segments) and segments[-1]["state"] == PAUSED,
    }


# --- the simulator ------------------------------------------------------------------------------------


def simulation_json(result: Simulation) -> dict[str, Any]:
    """What ``POST /api/v1/sla/simulate/`` answers and the console's simulator shows."""
    views, now = result.clocks, result.now
    return {
        "policy": result.snapshot["policy"],
        "priority": result.priority,
        "targets": result.targets,
        "business_hours": result.profile,
        "now": now,
        "first_response_due": views[FIRST_RESPONSE].due,
        "resolution_due": views[RESOLUTION].due,
        "first_response": clock_json(views[FIRST_RESPONSE], now),
        "resolution": clock_json(views[RESOLUTION], now),
        "segments": segments_json(result.calendar, result.segments, now),
    }
