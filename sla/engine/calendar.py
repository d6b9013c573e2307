"""Business-time arithmetic: ``add`` and ``between`` exactly as ``spec/sla.md`` defines them.

A profile's open time is a set of real instants: each local interval ``[start, end)`` of each
weekday that is not a holiday, with both ends placed at the first instant the wall clock shows
that time (a time skipped by a spring-forward change is placed at the change itself). So an
interval on a day when the clocks change counts its real length: 01:00-03:00 on a
spring-forward night is one hour, and 00:00-03:00 on a fall-back night is four.

Instants are handled as integer microseconds since the epoch, so ``between(s, add(s, m)) == m``
holds exactly. The open intervals are laid out one local week (Monday 00:00 to Monday 00:00) at
a time with their running totals; a week is built once per calendar and reused, and ``add``
skips every whole week it does not end in with one subtraction, so a 30-day target costs a few
steps more than an 8-hour one.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.errors import RuleViolation
from core.parsers import LATEST, zone_names

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MICROS = 1_000_000
MINUTE = 60 * MICROS
DAY_MINUTES = 24 * 60
# A profile's open time may be wiped out by holidays for a while, never for ten years in a row:
# past that, the profile is broken and ``add`` says so instead of searching for ever.
MAX_WEEKS = 530
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

# weekday (0 = Monday) -> sorted, non-overlapping (start minute, end minute) pairs
WeeklyHours = tuple[tuple[tuple[int, int], ...], ...]


class DueOutOfRange(RuleViolation):
    """Business time that would run past ``core.parsers.LATEST``: a profile open so rarely, or a
    target so long, that no due time can be given. Policies are refused at save time when they
    would come near it (``sla.services``); this keeps the arithmetic itself from overflowing."""

    def __init__(self) -> None:
        super().__init__(
            "sla_out_of_range",
            f"This SLA would put a due time after {LATEST:%Y}; its business hours open too rarely "
            "for its targets. Change the policy or its business hours.",
        )


_LAST_MONDAY = LATEST.date().toordinal()


class ProfileError(ValueError):
    """A business-hours profile that cannot be used; ``field`` names the offending part
    (``schedule.mon[1]``, ``timezone``, ``holidays[3]``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def to_micros(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("business time needs aware datetimes")
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def as_micros(amount: int | timedelta) -> int:
    """Targets are whole minutes (int); what is left of a target may be any duration."""
    if isinstance(amount, timedelta):
        return (amount.days * 86_400 + amount.seconds) * MICROS + amount.microseconds
    return amount * MINUTE


class Calendar(Protocol):
    def add(self, start: datetime, amount: int | timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


class AlwaysOpen:
    """A policy without a profile runs 24x7: every second counts."""

    def add(self, start: datetime, amount: int | timedelta) -> datetime:
        micros = as_micros(amount)
        if micros < 0:
            raise ValueError("business time cannot be negative")
        return from_micros(to_micros(start) + micros)

    def between(self, start: datetime, end: datetime) -> timedelta:
        # As instants: two datetimes of the same zone subtract and compare by wall clock.
        return timedelta(microseconds=max(to_micros(end) - to_micros(start), 0))

    def is_open(self, instant: datetime) -> bool:
        return True


ALWAYS_OPEN = AlwaysOpen()


@dataclass(frozen=True, slots=True)
class _Week:
    """The open intervals of one local week as instants, with running totals."""

    monday: int  # the local Monday's date ordinal
    begins: int  # instant of Monday 00:00 local
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    totals: tuple[int, ...]  # business time from the week's start to the end of each interval
    total: int

    def used_before(self, instant: int) -> int:
        """Business time of this week before ``instant`` (which lies inside the week)."""
        index = bisect_right(self.ends, instant)
        used = self.totals[index - 1] if index else 0
        if index < len(self.starts) and instant > self.starts[index]:
            used += instant - self.starts[index]
        return used

    def instant_at(self, used: int) -> int:
        """The earliest instant by which ``used`` (0 < used <= total) business time has run."""
        index = bisect_left(self.totals, used)
        return self.ends[index] - (self.totals[index] - used)


class BusinessCalendar:
    def __init__(self, *, timezone: str, hours: WeeklyHours, holidays: Iterable[date] = ()) -> None:
        self.zone = ZoneInfo(timezone)
        self.hours = hours
        self.holidays = frozenset(day.toordinal() for day in holidays)
        self._weeks: dict[int, _Week] = {}
        if not any(hours):
            raise ProfileError("schedule", "the profile has no open time at all")

    # --- the two operations ------------------------------------------------------------------

    def add(self, start: datetime, amount: int | timedelta) -> datetime:
        """The earliest instant by which ``amount`` of business time has run, counting from
        ``start`` (from the next opening when ``start`` is outside open hours)."""
        remaining = as_micros(amount)
        if remaining < 0:
            raise ValueError("business time cannot be negative")
        if remaining == 0:
            return start
        instant = to_micros(start)
        week = self._week_of(start)
        used = week.used_before(instant)
        empty = 0  # weeks in a row without business time: a long target may span many weeks
        while empty < MAX_WEEKS:
            if remaining <= week.total - used:
                return from_micros(week.instant_at(used + remaining))
            remaining -= week.total - used
            if week.monday > _LAST_MONDAY:
                raise DueOutOfRange
            week, used = self._week(week.monday + 7), 0
            empty = 0 if week.total else empty + 1
        raise ProfileError(
            "holidays", f"no business time for {MAX_WEEKS} weeks in a row after {start.isoformat()}"
        )

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (zero when ``end`` is not after ``start``)."""
        start_micros, end_micros = to_micros(start), to_micros(end)
        if end_micros <= start_micros:  # as instants: same-zone datetimes compare by wall clock
            return timedelta(0)
        first, last = self._week_of(start), self._week_of(end)
        micros = last.used_before(end_micros) - first.used_before(start_micros)
        for monday in range(first.monday, last.monday, 7):
            micros += self._week(monday).total
        return timedelta(microseconds=micros)

    def is_open(self, instant: datetime) -> bool:
        micros = to_micros(instant)
        week = self._week_of(instant)
        index = bisect_right(week.ends, micros)
        return index < len(week.starts) and week.starts[index] <= micros

    # --- laying out weeks --------------------------------------------------------------------

    def _week_of(self, instant: datetime) -> _Week:
        local = instant.astimezone(self.zone).date()
        return self._week(local.toordinal() - local.weekday())

    def _week(self, monday: int) -> _Week:
        week = self._weeks.get(monday)
        if week is None:
            if len(self._weeks) > 4096:
                self._weeks.clear()
            week = self._weeks[monday] = self._lay_out(monday)
        return week

    def _lay_out(self, monday: int) -> _Week:
        starts: list[int] = []
        ends: list[int] = []
        totals: list[int] = []
        total = 0
        for weekday, intervals in enumerate(self.hours):
            day = monday + weekday
            if day in self.holidays:
                continue
            for open_minute, close_minute in intervals:
                opens, closes = self._instant(day, open_minute), self._instant(day, close_minute)
                if closes <= opens:  # the whole interval fell into a skipped hour
                    continue
                total += closes - opens
                starts.append(opens)
                ends.append(closes)
                totals.append(total)
        return _Week(
            monday=monday,
            begins=self._instant(monday, 0),
            starts=tuple(starts),
            ends=tuple(ends),
            totals=tuple(totals),
            total=total,
        )

    def _instant(self, day_ordinal: int, minute: int) -> int:
        """The first instant at which the local wall clock shows ``minute`` of the day (or a
        later time, when that one is skipped by a spring-forward change)."""
        day = date.fromordinal(day_ordinal + minute // DAY_MINUTES)
        minute %= DAY_MINUTES
        # fold=0: the first occurrence of a repeated time
        placed = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.zone)
        wall = placed.replace(tzinfo=None)
        micros = to_micros(placed)
        if from_micros(micros).astimezone(self.zone).replace(tzinfo=None) == wall:
            return micros
        # Skipped: fold=0 placed it after the change, fold=1 before it; the change (a whole
        # second) lies between, where the offset switches.
        low, high = sorted((to_micros(wall.replace(tzinfo=self.zone, fold=1)) // MICROS, micros // MICROS))
        before = self._offset(low)
        while high - low > 1:
            middle = (low + high) // 2
            if self._offset(middle) == before:
                low = middle
            else:
                high = middle
        return high * MICROS

    def _offset(self, seconds: int) -> timedelta | None:
        return datetime.fromtimestamp(seconds, self.zone).utcoffset()


# --- profiles as stored (api.md shape) -----------------------------------------------------------


def parse_time(text: Any, field: str, *, allow_midnight_end: bool) -> int:
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match:
        raise ProfileError(field, f"{text!r} is not a time; use HH:MM between 00:00 and 24:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and (minutes or not allow_midnight_end):
        raise ProfileError(field, f"{text!r}: 24:00 is allowed only as the end of an interval")
    return hours * 60 + minutes


def parse_schedule(schedule: Any) -> WeeklyHours:
    """``{"mon": [["09:00", "17:00"]], ..., "sun": []}`` -> weekly minutes, refusing unknown days,
    bad times, empty or inverted intervals and overlaps, each with the field that is wrong."""
    if not isinstance(schedule, Mapping):
        raise ProfileError("schedule", 'expected an object such as {"mon": [["09:00", "17:00"]], ...}')
    unknown = sorted(set(schedule) - set(WEEKDAYS))
    if unknown:
        raise ProfileError(f"schedule.{unknown[0]}", "not a weekday; use mon, tue, wed, thu, fri, sat, sun")
    week: list[tuple[tuple[int, int], ...]] = []
    for day in WEEKDAYS:
        intervals = schedule.get(day, [])
        if not isinstance(intervals, list):
            raise ProfileError(f"schedule.{day}", 'expected a list of ["HH:MM", "HH:MM"] pairs')
        parsed: list[tuple[int, int, str]] = []
        for index, pair in enumerate(intervals):
            field = f"schedule.{day}[{index}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ProfileError(field, 'expected a pair ["HH:MM", "HH:MM"]')
            start = parse_time(pair[0], field, allow_midnight_end=False)
            end = parse_time(pair[1], field, allow_midnight_end=True)
            if end <= start:
                raise ProfileError(field, f"{pair[0]}-{pair[1]} ends before it starts")
            parsed.append((start, end, field))
        parsed.sort()
        for (_, end, before), (start, _, field) in pairwise(parsed):
            if start < end:
                raise ProfileError(field, f"overlaps {before}")
        week.append(tuple((start, end) for start, end, _ in parsed))
    if not any(week):
        raise ProfileError("schedule", "the profile has no open time at all; open at least one interval")
    return tuple(week)


def parse_timezone(name: Any) -> str:
    if not isinstance(name, str) or name not in zone_names():
        shown = str(name)[:64].replace("\x00", "")
        raise ProfileError("timezone", f"{shown!r} is not an IANA time zone (such as Europe/London)")
    return name


def parse_holidays(holidays: Any) -> list[date]:
    if not isinstance(holidays, list):
        raise ProfileError("holidays", 'expected a list of dates such as ["2026-12-25"]')
    days: set[date] = set()
    for index, text in enumerate(holidays):
        try:
            days.add(date.fromisoformat(text))
        except (TypeError, ValueError):
            raise ProfileError(f"holidays[{index}]", f"{text!r} is not a date (YYYY-MM-DD)") from None
    return sorted(days)


@lru_cache(maxsize=256)
def _calendar(key: str) -> BusinessCalendar:
    profile = json.loads(key)
    return BusinessCalendar(
        timezone=parse_timezone(profile.get("timezone")),
        hours=parse_schedule(profile.get("schedule")),
        holidays=parse_holidays(profile.get("holidays") or []),
    )


def calendar_for(profile: Mapping[str, Any] | None) -> BusinessCalendar | AlwaysOpen:
    """The calendar of a stored profile (``{timezone, schedule, holidays}``, as on a policy
    snapshot); None is 24x7. Calendars are shared, so their laid-out weeks are reused."""
    if profile is None:
        return ALWAYS_OPEN
    key = {name: profile.get(name) for name in ("timezone", "schedule", "holidays")}
    return _calendar(json.dumps(key, sort_keys=True))
