"""The two SLA clocks of a ticket, derived from one list of segments (``spec/sla.md``).

A ticket's SLA timeline is a list of segments, each ``running`` (open), ``paused`` (pending:
waiting on the customer) or ``stopped`` (resolved or closed), with who started it and why. The
resolution clock counts every running segment; the first-response clock counts the running
segments up to its stop (the first public agent reply or the first resolution, whichever came
first), and never restarts. Due times, breaches, warnings, the explanation and the simulator are
all computed here from those segments, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import TextChoices

from sla.engine.calendar import MICROS, AlwaysOpen, BusinessCalendar, as_micros


class Clock(TextChoices):
    """The two clocks of every ticket (the labels are how pages name them)."""

    FIRST_RESPONSE = "first_response", "First response"
    RESOLUTION = "resolution", "Resolution"


class SegmentState(TextChoices):
    """What the clocks do during a segment of a ticket's timeline."""

    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


RUNNING, PAUSED, STOPPED = SegmentState.RUNNING, SegmentState.PAUSED, SegmentState.STOPPED
FIRST_RESPONSE, RESOLUTION = Clock.FIRST_RESPONSE, Clock.RESOLUTION
CLOCKS: tuple[str, ...] = tuple(Clock.values)
# A ticket's status -> what its clocks do: open runs, pending pauses, resolved and closed stop.
CLOCK_STATE = {"open": RUNNING, "pending": PAUSED, "resolved": STOPPED, "closed": STOPPED}


@dataclass(frozen=True)
class Segment:
    state: str
    start: datetime
    end: datetime | None = None
    by: str = ""
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "by": self.by,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Segment:
        end = data.get("end")
        return cls(
            state=data["state"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(end) if end else None,
            by=data.get("by", ""),
            reason=data.get("reason", ""),
        )


def segments_from(data: Sequence[Mapping[str, Any]]) -> list[Segment]:
    return [Segment.from_json(item) for item in data]


def timeline_start(at: datetime, *, by: str, reason: str = "ticket created") -> list[Segment]:
    return [Segment(RUNNING, at, by=by, reason=reason)]


def timeline_move(
    segments: Sequence[Segment], state: str, at: datetime, *, by: str, reason: str
) -> list[Segment]:
    """Close the open segment at ``at`` and open one in ``state`` (no-op if already there)."""
    current = segments[-1]
    if current.state == state:
        return list(segments)
    closed = Segment(current.state, current.start, at, current.by, current.reason)
    return [*segments[:-1], closed, Segment(state, at, by=by, reason=reason)]


def first_response_stop(segments: Sequence[Segment], responded_at: datetime | None) -> datetime | None:
    """The first-response clock stops at the first public agent reply or the first resolution."""
    resolved = next((segment.start for segment in segments if segment.state == STOPPED), None)
    candidates = [at for at in (responded_at, resolved) if at is not None]
    return min(candidates) if candidates else None


def running_spans(
    segments: Sequence[Segment], stop: datetime | None = None
) -> list[tuple[datetime, datetime | None]]:
    """The running intervals of a clock that stops at ``stop`` (None: the ticket's own state)."""
    spans: list[tuple[datetime, datetime | None]] = []
    for segment in segments:
        if segment.state != RUNNING or (stop is not None and segment.start >= stop):
            continue
        end = segment.end
        if stop is not None and (end is None or end > stop):
            end = stop
        spans.append((segment.start, end))
    return spans


@dataclass(frozen=True)
class ClockView:
    """One clock at one instant. ``due`` is the instant its running time reaches the target (the
    due in force when it stopped; None while paused short of the target); ``breached_at`` is
    that instant once the clock ran past it."""

    clock: str
    target: int  # minutes
    state: str
    due: datetime | None
    warn_at: datetime | None
    breached_at: datetime | None
    elapsed: timedelta
    stopped_at: datetime | None

    @property
    def met(self) -> bool | None:
        if self.state != STOPPED:
            return None
        return self.breached_at is None

    def remaining(self, now: datetime) -> timedelta | None:
        return self.due - now if self.due is not None and self.state == RUNNING else None


def _reach(
    calendar: BusinessCalendar | AlwaysOpen, spans: Sequence[tuple[datetime, datetime | None]], amount: int
) -> datetime:
    """The instant the running time reaches ``amount`` microseconds, the last span running on."""
    used = 0
    for index, (start, end) in enumerate(spans):
        left = amount - used
        at = calendar.add(start, timedelta(microseconds=left))
        if end is None or index == len(spans) - 1 or at <= end:
            return at
        used += as_micros(calendar.between(start, end))
    raise ValueError("a clock has at least one running span")


def clock_view(
    *,
    clock: str,
    calendar: BusinessCalendar | AlwaysOpen,
    spans: Sequence[tuple[datetime, datetime | None]],
    target: int,
    warning_percent: int,
    state: str,
    now: datetime,
) -> ClockView:
    """Evaluate one clock. ``state`` is the clock's own state (running, paused or stopped)."""
    target_micros = target * 60 * MICROS
    last_end = spans[-1][1] if spans else None
    ran_until = now if last_end is None else last_end
    due = _reach(calendar, spans, target_micros) if spans else None
    warn_at = _reach(calendar, spans, target_micros * warning_percent // 100) if spans else None
    reached = due is not None and (last_end is None or due <= last_end)
    if state == PAUSED and not reached:
        due = None
    if warn_at is not None and last_end is not None and warn_at > last_end:
        warn_at = None  # not reached while it ran
    elapsed = sum((calendar.between(start, end or now) for start, end in spans), timedelta(0))
    return ClockView(
        clock=clock,
        target=target,
        state=state,
        due=due,
        warn_at=warn_at,
        breached_at=due if due is not None and ran_until > due else None,
        elapsed=elapsed,
        stopped_at=last_end if state == STOPPED else None,
    )


def ticket_clocks(
    *,
    calendar: BusinessCalendar | AlwaysOpen,
    segments: Sequence[Segment],
    targets: Mapping[str, int],
    warning_percent: int,
    responded_at: datetime | None,
    now: datetime,
) -> dict[str, ClockView]:
    """Both clocks of a ticket; ``targets`` maps clock name to minutes for its priority."""
    current = segments[-1].state
    fr_stop = first_response_stop(segments, responded_at)
    fr_state = STOPPED if fr_stop is not None else current
    return {
        FIRST_RESPONSE: clock_view(
            clock=FIRST_RESPONSE,
            calendar=calendar,
            spans=running_spans(segments, fr_stop),
            target=targets[FIRST_RESPONSE],
            warning_percent=warning_percent,
            state=fr_state,
            now=now,
        ),
        RESOLUTION: clock_view(
            clock=RESOLUTION,
            calendar=calendar,
            spans=running_spans(segments),
            target=targets[RESOLUTION],
            warning_percent=warning_percent,
            state=current,
            now=now,
        ),
    }
