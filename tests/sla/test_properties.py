"""Properties of ``add`` and ``between`` (``sla/calendar.py``) over random profiles.

Random weekly schedules (boundaries often in the small hours, where clocks change; ``24:00``
ends), zones with daylight saving time (and Asia/Kolkata without), random holidays near the start,
and starts drawn either anywhere in 2017-2028 or within three days of one of the zone's clock
changes (America/Sao_Paulo changed its clocks at midnight until 2019, Australia/Lord_Howe by
half an hour). Pure functions: no database.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.engine.calendar import BusinessCalendar, WeeklyHours, parse_schedule

ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST, LAST = datetime(2017, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# SLA_PROPERTY_EXAMPLES=5000 for a longer hunt; 300 keeps the file at about 10 s.
PROPERTY = settings(
    max_examples=int(os.environ.get("SLA_PROPERTY_EXAMPLES", "300")),
    deadline=None,
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def clock_changes(zone_name: str) -> tuple[datetime, ...]:
    """The instants (whole seconds, UTC) at which ``zone_name`` changes its offset, 2017-2028."""
    zone = ZoneInfo(zone_name)

    def offset(instant: datetime) -> timedelta | None:
        return instant.astimezone(zone).utcoffset()

    changes: list[datetime] = []
    day = FIRST
    while day < LAST:
        following = day + timedelta(days=1)
        if offset(day) != offset(following):
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) // 2
                low, high = (middle, high) if offset(middle) == offset(day) else (low, middle)
            changes.append(high)
        day = following
    return tuple(changes)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# Interval boundaries: anywhere, or on the hours around clock changes and midnight.
boundaries = st.one_of(
    st.integers(0, 1440),
    st.sampled_from([0, 30, 60, 90, 120, 150, 180, 540, 1020, 1410, 1440]),
)


@st.composite
def day_intervals(draw: st.DrawFn) -> list[list[str]]:
    points = sorted(draw(st.sets(boundaries, max_size=6)))
    if len(points) % 2:
        points = points[:-1]
    return [[hhmm(start), hhmm(end)] for start, end in zip(points[::2], points[1::2], strict=True)]


@st.composite
def weekly_hours(draw: st.DrawFn) -> WeeklyHours:
    """A stored schedule (``{"mon": [["HH:MM", "HH:MM"]], ...}``) through ``parse_schedule``."""
    schedule = {day: draw(day_intervals()) for day in WEEKDAYS}
    if not any(schedule.values()):
        schedule[draw(st.sampled_from(WEEKDAYS))] = [["09:00", "17:00"]]
    return parse_schedule(schedule)


@st.composite
def instants(draw: st.DrawFn, zone_name: str) -> datetime:
    """Anywhere in 2017-2028, or within three days of one of the zone's clock changes; on whole
    minutes more often than not (so starts meet interval boundaries)."""
    changes = clock_changes(zone_name)
    near_a_change = draw(st.booleans())
    if changes and near_a_change:
        around = draw(st.sampled_from(changes))
        instant = around + timedelta(seconds=draw(st.integers(-3 * 86_400, 3 * 86_400)))
    else:
        instant = FIRST + timedelta(seconds=draw(st.integers(0, int((LAST - FIRST).total_seconds()))))
    if draw(st.booleans()):
        instant = instant.replace(second=0)
    else:
        instant += timedelta(microseconds=draw(st.integers(0, 999_999)))
    return instant.astimezone(ZoneInfo(zone_name))


@st.composite
def cases(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime]:
    """A random profile and a start instant; holidays are drawn near the start so they matter."""
    zone_name = draw(st.sampled_from(ZONES))
    start = draw(instants(zone_name))
    near: date = start.date()
    holidays = {near + timedelta(days=offset) for offset in draw(st.sets(st.integers(-7, 90), max_size=25))}
    calendar = BusinessCalendar(timezone=zone_name, hours=draw(weekly_hours()), holidays=holidays)
    return calendar, start


minutes = st.one_of(st.integers(1, 600), st.integers(1, 5_000), st.integers(1, 60_000))


@PROPERTY
@given(cases(), minutes)
def test_between_start_and_add_is_the_amount(case: tuple[BusinessCalendar, datetime], m: int) -> None:
    calendar, start = case
    assert calendar.between(start, calendar.add(start, m)) == timedelta(minutes=m)


@PROPERTY
@given(cases(), minutes, minutes)
def test_add_is_strictly_monotonic_in_the_amount(
    case: tuple[BusinessCalendar, datetime], m1: int, m2: int
) -> None:
    calendar, start = case
    low, high = sorted((m1, m2))
    if low == high:
        assert calendar.add(start, low) == calendar.add(start, high)
    else:
        assert start < calendar.add(start, low) < calendar.add(start, high)
    assert calendar.add(start, 0) == start <= calendar.add(start, low)


@PROPERTY
@given(cases(), minutes)
def test_due_is_inside_open_hours_or_a_closing_instant(
    case: tuple[BusinessCalendar, datetime], m: int
) -> None:
    """The last microsecond counted is open time; and one microsecond less was not enough."""
    calendar, start = case
    due = calendar.add(start, m).astimezone(UTC)
    assert calendar.is_open(due - MICROSECOND)
    assert calendar.between(start, due - MICROSECOND) == timedelta(minutes=m) - MICROSECOND


@PROPERTY
@given(cases(), st.integers(0, 40 * 86_400), st.integers(0, 40 * 86_400))
def test_between_is_additive(case: tuple[BusinessCalendar, datetime], first: int, second: int) -> None:
    calendar, a = case
    # Arithmetic on instants (in UTC): on a zone's datetimes Python adds by wall clock.
    b = (a.astimezone(UTC) + timedelta(seconds=first)).astimezone(a.tzinfo)
    c = (b.astimezone(UTC) + timedelta(seconds=second)).astimezone(a.tzinfo)
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)
    assert calendar.between(a, c) <= c.astimezone(UTC) - a.astimezone(UTC)
    assert calendar.between(c, a) == timedelta(0)


@PROPERTY
@given(cases(), st.integers(-2 * 86_400, 2 * 86_400))
def test_is_open_agrees_with_between(case: tuple[BusinessCalendar, datetime], shift: int) -> None:
    """An instant is open exactly when the microsecond starting at it counts."""
    calendar, start = case
    instant = start.astimezone(UTC) + timedelta(seconds=shift)
    counted = calendar.between(instant, instant + MICROSECOND)
    assert counted == (MICROSECOND if calendar.is_open(instant) else timedelta(0))
