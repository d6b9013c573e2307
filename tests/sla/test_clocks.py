"""The two SLA clocks (``sla/clocks.py``) against ``spec/sla.md``: pauses, reopening, the
first-response stop, priority changes, outcomes and the warning instant.

Timelines are built with ``timeline_start`` / ``timeline_move`` as the ticket workflows build
them, then evaluated with the pure ``ticket_clocks`` / ``clock_view``. No database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.engine.calendar import ALWAYS_OPEN, AlwaysOpen, BusinessCalendar, calendar_for
from sla.engine.clocks import (
    FIRST_RESPONSE,
    PAUSED,
    RESOLUTION,
    RUNNING,
    STOPPED,
    ClockView,
    Segment,
    clock_view,
    running_spans,
    segments_from,
    ticket_clocks,
    timeline_move,
    timeline_start,
)

LONDON = ZoneInfo("Europe/London")
UK_OFFICE = {
    "timezone": "Europe/London",
    "schedule": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25", "2026-12-28"],
}


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant on 2026-11-02 (a Monday) or a later day of that month, in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def uk_office() -> BusinessCalendar:
    calendar = calendar_for(UK_OFFICE)
    assert isinstance(calendar, BusinessCalendar)
    return calendar


def timeline(created: datetime, *moves: tuple[str, datetime]) -> list[Segment]:
    segments = timeline_start(created, by="requester")
    for state, at in moves:
        segments = timeline_move(segments, state, at, by="agent", reason=f"to {state}")
    return segments


def clocks(
    segments: list[Segment],
    *,
    now: datetime,
    first_response: int = 60,
    resolution: int = 240,
    warning_percent: int = 80,
    responded_at: datetime | None = None,
    calendar: BusinessCalendar | AlwaysOpen = ALWAYS_OPEN,
) -> dict[str, ClockView]:
    return ticket_clocks(
        calendar=calendar,
        segments=segments,
        targets={FIRST_RESPONSE: first_response, RESOLUTION: resolution},
        warning_percent=warning_percent,
        responded_at=responded_at,
        now=now,
    )


# --- the worked examples of spec/sla.md, verbatim ----------------------------------------------


def test_example_pause_24x7_resolution_240() -> None:
    """Pause, 24x7, resolution target 240: created 10:00Z, an agent asks a question and sets
    pending at 11:00Z (60 used), the customer answers at 13:00Z (open again) -> due 16:00Z."""
    created, pending, answered = utc(2, 10), utc(2, 11), utc(2, 13)
    segments = timeline(created, (PAUSED, pending), (RUNNING, answered))
    assert [s.state for s in segments] == [RUNNING, PAUSED, RUNNING]

    while_pending = clocks(segments[:2], now=utc(2, 12), responded_at=pending)[RESOLUTION]
    assert while_pending.state == PAUSED
    assert while_pending.elapsed == timedelta(minutes=60)  # 60 used
    assert while_pending.due is None  # paused short of the target: no due while waiting

    resolution = clocks(segments, now=answered, responded_at=pending)[RESOLUTION]
    assert resolution.state == RUNNING
    assert resolution.elapsed == timedelta(minutes=60)
    assert resolution.due == utc(2, 16)
    # due = add(resume point, target - elapsed)
    assert resolution.due == ALWAYS_OPEN.add(answered, timedelta(minutes=240) - resolution.elapsed)
    assert resolution.breached_at is None
    assert resolution.remaining(answered) == timedelta(hours=3)


def test_example_priority_change_p3_to_p1_at_11_00() -> None:
    """Priority change, UK office: P3 (resolution 1440) created Mon 2026-11-23 09:00; at 11:00 the
    priority becomes P1 (resolution 240) -> resolution due Mon 13:00."""
    created, changed = london(2026, 11, 23, 9), london(2026, 11, 23, 11)
    segments = timeline(created)
    before = clocks(segments, now=changed, resolution=1440, calendar=uk_office())[RESOLUTION]
    assert before.due == london(2026, 11, 25, 17)  # three 8-hour days
    after = clocks(segments, now=changed, resolution=240, calendar=uk_office())[RESOLUTION]
    assert after.elapsed == timedelta(hours=2)
    assert after.due == london(2026, 11, 23, 13)
    assert after.breached_at is None
    assert after.remaining(changed) == timedelta(hours=2)


def test_example_priority_change_at_14_00_is_breached_at_once_at_13_00() -> None:
    """Had the change come at 14:00, the clock would be breached at once with breach instant
    13:00."""
    created, changed = london(2026, 11, 23, 9), london(2026, 11, 23, 14)
    segments = timeline(created)
    before = clocks(segments, now=changed, resolution=1440, calendar=uk_office())[RESOLUTION]
    assert before.breached_at is None
    after = clocks(segments, now=changed, resolution=240, calendar=uk_office())[RESOLUTION]
    assert after.elapsed == timedelta(hours=5)
    assert after.breached_at == london(2026, 11, 23, 13)
    assert after.due == london(2026, 11, 23, 13)
    assert after.state == RUNNING  # still running, and breached: a fact from 13:00 on


# --- first response ----------------------------------------------------------------------------


def test_first_response_stops_at_the_first_public_agent_reply() -> None:
    segments = timeline(utc(2, 10))
    views = clocks(segments, now=utc(2, 12), responded_at=utc(2, 10, 40))
    first = views[FIRST_RESPONSE]
    assert first.state == STOPPED
    assert first.stopped_at == utc(2, 10, 40)
    assert first.elapsed == timedelta(minutes=40)
    assert first.met is True
    assert views[RESOLUTION].state == RUNNING
    assert views[RESOLUTION].elapsed == timedelta(hours=2)


def test_first_response_stops_at_resolution_and_never_restarts_after_reopen() -> None:
    created, resolved, reopened = utc(2, 10), utc(2, 10, 30), utc(2, 11)
    segments = timeline(created, (STOPPED, resolved))
    first = clocks(segments, now=utc(2, 10, 45))[FIRST_RESPONSE]
    assert (first.state, first.stopped_at, first.met) == (STOPPED, resolved, True)
    assert first.elapsed == timedelta(minutes=30)

    reopened_segments = timeline_move(segments, RUNNING, reopened, by="requester", reason="reopened")
    later = utc(2, 15)  # long past the 60-minute target: still met, still stopped at 10:30
    views = clocks(reopened_segments, now=later, responded_at=utc(2, 14))
    first = views[FIRST_RESPONSE]
    assert (first.state, first.stopped_at, first.met, first.breached_at) == (STOPPED, resolved, True, None)
    assert first.elapsed == timedelta(minutes=30)
    assert first.remaining(later) is None
    assert views[RESOLUTION].state == RUNNING


def test_first_response_is_the_earlier_of_reply_and_resolution() -> None:
    segments = timeline(utc(2, 10), (STOPPED, utc(2, 10, 20)))
    first = clocks(segments, now=utc(2, 12), responded_at=utc(2, 10, 50))[FIRST_RESPONSE]
    assert first.stopped_at == utc(2, 10, 20)


def test_pending_pauses_both_running_clocks() -> None:
    segments = timeline(utc(2, 10), (PAUSED, utc(2, 10, 15)))
    views = clocks(segments, now=utc(2, 18))
    for view in views.values():
        assert view.state == PAUSED
        assert view.elapsed == timedelta(minutes=15)
        assert view.breached_at is None
        assert view.remaining(utc(2, 18)) is None
    resumed = timeline_move(segments, RUNNING, utc(2, 18), by="requester", reason="customer replied")
    views = clocks(resumed, now=utc(2, 18))
    assert views[FIRST_RESPONSE].due == utc(2, 18, 45)  # 60 - 15 left
    assert views[RESOLUTION].due == utc(2, 21, 45)  # 240 - 15 left


# --- resolution and reopening ------------------------------------------------------------------


def test_reopen_restarts_resolution_and_resolved_time_does_not_count() -> None:
    created, resolved, reopened = utc(2, 10), utc(2, 11), utc(3, 9)
    segments = timeline(created, (STOPPED, resolved))
    stopped = clocks(segments, now=utc(2, 20))[RESOLUTION]
    assert stopped.state == STOPPED
    assert stopped.elapsed == timedelta(hours=1)
    assert stopped.met is True

    segments = timeline_move(segments, RUNNING, reopened, by="requester", reason="reopened")
    running = clocks(segments, now=utc(3, 10))[RESOLUTION]
    assert running.state == RUNNING
    assert running.elapsed == timedelta(hours=2)  # 10:00-11:00 and 09:00-10:00 the next day
    assert running.due == utc(3, 12)  # 180 minutes left from the reopening
    assert running.met is None


def test_reopen_on_business_hours() -> None:
    """UK office, resolution 480: 2 h on Monday, resolved over the night, reopened Tue 10:00."""
    cal = uk_office()
    segments = timeline(
        london(2026, 11, 23, 9), (STOPPED, london(2026, 11, 23, 11)), (RUNNING, london(2026, 11, 24, 10))
    )
    view = clocks(segments, now=london(2026, 11, 24, 10), resolution=480, calendar=cal)[RESOLUTION]
    assert view.elapsed == timedelta(hours=2)
    assert view.due == london(2026, 11, 24, 16)


def test_timeline_move_to_the_same_state_changes_nothing() -> None:
    segments = timeline(utc(2, 10))
    assert timeline_move(segments, RUNNING, utc(2, 11), by="x", reason="y") == segments


def test_segments_round_trip_through_json() -> None:
    segments = timeline(utc(2, 10), (PAUSED, utc(2, 11)), (RUNNING, utc(2, 13)))
    assert segments_from([s.as_json() for s in segments]) == segments


def test_running_spans_cut_at_the_stop() -> None:
    segments = timeline(utc(2, 10), (PAUSED, utc(2, 11)), (RUNNING, utc(2, 13)), (STOPPED, utc(2, 14)))
    assert running_spans(segments) == [(utc(2, 10), utc(2, 11)), (utc(2, 13), utc(2, 14))]
    assert running_spans(segments, utc(2, 10, 30)) == [(utc(2, 10), utc(2, 10, 30))]
    assert running_spans(segments, utc(2, 12)) == [(utc(2, 10), utc(2, 11))]


# --- outcomes ----------------------------------------------------------------------------------


def test_stopped_exactly_at_due_is_met() -> None:
    segments = timeline(utc(2, 10), (STOPPED, utc(2, 14)))
    view = clocks(segments, now=utc(2, 20))[RESOLUTION]
    assert view.due == utc(2, 14)
    assert view.breached_at is None
    assert view.met is True


def test_stopped_after_due_is_breached_and_stays_breached() -> None:
    segments = timeline(utc(2, 10), (STOPPED, utc(2, 14, 0) + timedelta(seconds=1)))
    view = clocks(segments, now=utc(2, 20))[RESOLUTION]
    assert view.due == utc(2, 14)
    assert view.breached_at == utc(2, 14)
    assert view.met is False
    # Reopened and resolved again: still breached, at the same instant.
    segments = timeline_move(segments, RUNNING, utc(3, 9), by="requester", reason="reopened")
    segments = timeline_move(segments, STOPPED, utc(3, 9, 5), by="agent", reason="resolved")
    view = clocks(segments, now=utc(3, 10))[RESOLUTION]
    assert (view.met, view.breached_at) == (False, utc(2, 14))


def test_running_clock_is_breached_only_once_past_due() -> None:
    segments = timeline(utc(2, 10))
    at_due = clocks(segments, now=utc(2, 14))[RESOLUTION]
    assert (at_due.due, at_due.breached_at, at_due.met) == (utc(2, 14), None, None)
    assert at_due.remaining(utc(2, 14)) == timedelta(0)
    past = clocks(segments, now=utc(2, 14) + timedelta(microseconds=1))[RESOLUTION]
    assert past.breached_at == utc(2, 14)
    assert past.met is None  # not stopped: no outcome yet, but breached
    assert past.remaining(utc(2, 15)) == timedelta(hours=-1)


def test_paused_after_breach_keeps_the_breach() -> None:
    segments = timeline(utc(2, 10), (PAUSED, utc(2, 15)))
    view = clocks(segments, now=utc(2, 16))[RESOLUTION]
    assert view.state == PAUSED
    assert (view.due, view.breached_at) == (utc(2, 14), utc(2, 14))


def test_a_pause_before_due_moves_the_breach() -> None:
    segments = timeline(utc(2, 10), (PAUSED, utc(2, 13)), (RUNNING, utc(2, 15)))
    view = clocks(segments, now=utc(2, 17))[RESOLUTION]
    assert view.due == utc(2, 16)
    assert view.breached_at == utc(2, 16)


# --- warning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("percent", "warn"), [(80, utc(2, 13, 12)), (50, utc(2, 12)), (100, utc(2, 14))])
def test_warning_instant_is_at_warning_percent_of_the_target(percent: int, warn: datetime) -> None:
    view = clocks(timeline(utc(2, 10)), now=utc(2, 10), warning_percent=percent)[RESOLUTION]
    assert view.warn_at == warn


def test_warning_instant_on_business_hours_and_after_a_pause() -> None:
    """UK office, resolution 480, 80 %: the warning comes after 384 business minutes."""
    cal = uk_office()
    created = london(2026, 11, 27, 13)  # Friday: 4 h left that day
    view = clocks(timeline(created), now=created, resolution=480, calendar=cal)[RESOLUTION]
    assert view.warn_at == london(2026, 11, 30, 11, 24)
    assert view.due == london(2026, 11, 30, 13)
    paused = timeline(created, (PAUSED, london(2026, 11, 27, 14)), (RUNNING, london(2026, 11, 30, 10)))
    view = clocks(paused, now=london(2026, 11, 30, 10), resolution=480, calendar=cal)[RESOLUTION]
    assert view.warn_at == london(2026, 11, 30, 15, 24)  # 60 used, 324 more from Monday 10:00
    assert view.due == london(2026, 11, 30, 17)  # 420 more: Monday's 7 h end exactly at closing
    assert view.due == cal.add(london(2026, 11, 30, 10), 420)


def test_no_warning_for_a_clock_that_stopped_before_reaching_it() -> None:
    segments = timeline(utc(2, 10), (STOPPED, utc(2, 12)))
    view = clocks(segments, now=utc(2, 20))[RESOLUTION]
    assert view.warn_at is None
    assert view.met is True


def test_clock_view_directly() -> None:
    """``clock_view`` on spans: the same arithmetic the ticket's clocks use."""
    spans: list[tuple[datetime, datetime | None]] = [(utc(2, 10), utc(2, 11)), (utc(2, 13), None)]
    view = clock_view(
        clock=RESOLUTION,
        calendar=ALWAYS_OPEN,
        spans=spans,
        target=240,
        warning_percent=80,
        state=RUNNING,
        now=utc(2, 13),
    )
    assert (view.due, view.warn_at, view.elapsed) == (utc(2, 16), utc(2, 15, 12), timedelta(hours=1))
