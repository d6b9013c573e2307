"""The engine on given instants, for admins checking a policy (``POST /api/v1/sla/simulate/``
and the console's simulator).

The same code as live tickets: a timeline of segments built from the status events, the
calendar of the profile, ``sla.engine.clocks`` for both clocks. Nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sla.engine.calendar import AlwaysOpen, BusinessCalendar, calendar_for
from sla.engine.clocks import CLOCK_STATE, ClockView, Segment, ticket_clocks, timeline_move, timeline_start
from sla.engine.keeping import targets_of

MAX_EVENTS = 500


@dataclass(frozen=True)
class StatusEvent:
    at: datetime
    status: str  # a ticket status (CLOCK_STATE)


@dataclass(frozen=True)
class Simulation:
    """Both clocks of a made-up ticket at ``now``, with the timeline they ran on."""

    snapshot: Mapping[str, Any]
    priority: str
    profile: Mapping[str, Any] | None
    calendar: BusinessCalendar | AlwaysOpen
    segments: list[Segment]
    clocks: dict[str, ClockView]
    now: datetime

    @property
    def targets(self) -> dict[str, int]:
        return targets_of(dict(self.snapshot), self.priority)


def simulate(
    *,
    snapshot: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
    priority: str,
    created_at: datetime,
    events: Sequence[StatusEvent] = (),
    first_response_at: datetime | None = None,
    now: datetime | None = None,
) -> Simulation:
    """Run both clocks over the given status events; ``now`` defaults to the last instant given."""
    segments = timeline_start(created_at, by="simulator")
    for event in events:
        segments = timeline_move(
            segments, CLOCK_STATE[event.status], event.at, by="simulator", reason=event.status
        )
    instants = [created_at, *(event.at for event in events)]
    if first_response_at is not None:
        instants.append(first_response_at)
    at = now or max(instants)
    calendar = calendar_for(profile)
    clocks = ticket_clocks(
        calendar=calendar,
        segments=segments,
        targets=targets_of(dict(snapshot), priority),
        warning_percent=int(snapshot["warning_percent"]),
        responded_at=first_response_at,
        now=at,
    )
    return Simulation(
        snapshot=snapshot,
        priority=priority,
        profile=profile,
        calendar=calendar,
        segments=segments,
        clocks=clocks,
        now=at,
    )
