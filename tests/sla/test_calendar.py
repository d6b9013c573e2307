"""Business-hours arithmetic (``sla/calendar.py``) against ``spec/sla.md``.

The worked examples of the spec appear here verbatim, one test each; the rest pins the rules the
examples rest on (closing instants, starts outside hours, clock changes, ``24:00``) and the
validation of stored profiles. Pure functions: no database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sla.engine.calendar import (
    ALWAYS_OPEN,
    BusinessCalendar,
    ProfileError,
    calendar_for,
    parse_holidays,
    parse_schedule,
    parse_timezone,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
# The spec's profile "UK office", in the stored (api.md) shape.
UK_OFFICE: dict[str, Any] = {
    "timezone": "Europe/London",
    "schedule": {day: [["09:00", "17:00"]] if day in WORKDAYS else [] for day in (*WORKDAYS, "sat", "sun")},
    "holidays": ["2026-12-25", "2026-12-28"],
}


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def uk_office() -> BusinessCalendar:
    calendar = calendar_for(UK_OFFICE)
    assert isinstance(calendar, BusinessCalendar)
    return calendar


def calendar(timezone: str, **days: list[list[str]]) -> BusinessCalendar:
    return BusinessCalendar(timezone=timezone, hours=parse_schedule(days))


# --- the worked examples of spec/sla.md, verbatim ----------------------------------------------


def test_example_wed_1630_plus_480_is_thu_1630() -> None:
    """Wed 2026-11-18 16:30 | 480 | Thu 2026-11-19 16:30 | 30 min on Wed, 450 on Thu"""
    start = london(2026, 11, 18, 16, 30)
    due = uk_office().add(start, 480)
    assert due == london(2026, 11, 19, 16, 30)
    assert uk_office().between(start, london(2026, 11, 18, 17)) == timedelta(minutes=30)
    assert uk_office().between(london(2026, 11, 19, 9), due) == timedelta(minutes=450)
    assert uk_office().between(start, due) == timedelta(minutes=480)


def test_example_saturday_start_counts_from_monday_opening() -> None:
    """Sat 2026-11-21 10:00 | 120 | Mon 2026-11-23 11:00 | counting starts at Monday's opening"""
    start = london(2026, 11, 21, 10)
    assert uk_office().add(start, 120) == london(2026, 11, 23, 11)
    assert uk_office().between(start, london(2026, 11, 23, 11)) == timedelta(minutes=120)


def test_example_christmas_holidays_are_skipped() -> None:
    """Thu 2026-12-24 15:00 | 480 | Tue 2026-12-29 15:00 | 120 min Thu; Fri 25 and Mon 28 are
    holidays"""
    start = london(2026, 12, 24, 15)
    due = uk_office().add(start, 480)
    assert due == london(2026, 12, 29, 15)
    assert uk_office().between(start, london(2026, 12, 24, 17)) == timedelta(minutes=120)
    assert uk_office().between(london(2026, 12, 24, 17), london(2026, 12, 29, 9)) == timedelta(0)
    assert uk_office().between(start, due) == timedelta(minutes=480)


def test_example_ending_exactly_at_closing_is_the_closing_instant() -> None:
    """Mon 2026-11-23 08:00 | 480 | Mon 2026-11-23 17:00 | ends exactly at closing: the closing
    instant"""
    start = london(2026, 11, 23, 8)
    assert uk_office().add(start, 480) == london(2026, 11, 23, 17)
    assert uk_office().between(start, london(2026, 11, 23, 17)) == timedelta(minutes=480)


def test_example_24x7_new_york_across_fall_back() -> None:
    """24x7, America/New_York, 180 minutes from 2026-11-01 00:30 EDT (04:30Z): due 07:30Z (02:30
    EST, two wall-clock hours later because the clocks went back)."""
    start = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    assert start == utc(2026, 11, 1, 4, 30)
    assert calendar_for(None) is ALWAYS_OPEN
    due = ALWAYS_OPEN.add(start, 180)
    assert due == utc(2026, 11, 1, 7, 30)
    local = due.astimezone(NEW_YORK)
    assert (local.hour, local.minute, local.tzname()) == (2, 30, "EST")
    assert ALWAYS_OPEN.between(start, due) == timedelta(minutes=180)


# --- the rules behind them ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        london(2026, 11, 23, 10, 15),  # open
        london(2026, 11, 21, 10),  # Saturday
        london(2026, 11, 23, 17),  # closing instant
        london(2026, 12, 25, 12),  # holiday
        utc(2026, 11, 1, 4, 30),
    ],
)
def test_add_zero_is_the_start_itself(start: datetime) -> None:
    assert uk_office().add(start, 0) == start
    assert uk_office().add(start, timedelta(0)) == start
    assert ALWAYS_OPEN.add(start, 0) == start


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (london(2026, 11, 23, 7), london(2026, 11, 23, 9, 1)),  # before opening
        (london(2026, 11, 23, 17), london(2026, 11, 24, 9, 1)),  # at closing
        (london(2026, 11, 23, 20), london(2026, 11, 24, 9, 1)),  # after closing
        (london(2026, 11, 22, 23, 59), london(2026, 11, 23, 9, 1)),  # Sunday night
        (london(2026, 12, 25, 10), london(2026, 12, 29, 9, 1)),  # on a holiday, before another
    ],
)
def test_start_outside_hours_counts_from_the_next_opening(start: datetime, due: datetime) -> None:
    assert not uk_office().is_open(start)
    assert uk_office().add(start, 1) == due


def test_completing_at_closing_gives_closing_not_next_opening() -> None:
    cal = uk_office()
    assert cal.add(london(2026, 11, 23, 9), 480) == london(2026, 11, 23, 17)
    assert cal.add(london(2026, 11, 23, 16), 60) == london(2026, 11, 23, 17)
    # Friday's closing, not Monday's opening; the day before a holiday, not the day after.
    assert cal.add(london(2026, 11, 27, 9), 480) == london(2026, 11, 27, 17)
    assert cal.add(london(2026, 12, 24, 9), 480) == london(2026, 12, 24, 17)
    # One minute more goes on at the next opening.
    assert cal.add(london(2026, 11, 27, 9), 481) == london(2026, 11, 30, 9, 1)
    assert cal.add(london(2026, 12, 24, 9), 481) == london(2026, 12, 29, 9, 1)


def test_is_open_is_half_open_at_both_ends() -> None:
    cal = uk_office()
    assert cal.is_open(london(2026, 11, 23, 9))
    assert cal.is_open(london(2026, 11, 23, 17) - timedelta(microseconds=1))
    assert not cal.is_open(london(2026, 11, 23, 17))
    assert not cal.is_open(london(2026, 11, 23, 9) - timedelta(microseconds=1))
    assert not cal.is_open(london(2026, 12, 25, 12))


def test_between_is_zero_when_end_is_not_after_start() -> None:
    cal = uk_office()
    assert cal.between(london(2026, 11, 23, 12), london(2026, 11, 23, 10)) == timedelta(0)
    assert cal.between(london(2026, 11, 23, 12), london(2026, 11, 23, 12)) == timedelta(0)
    assert ALWAYS_OPEN.between(utc(2026, 11, 23, 12), utc(2026, 11, 23, 10)) == timedelta(0)


def test_add_takes_a_timedelta_to_the_microsecond() -> None:
    cal = uk_office()
    left = timedelta(minutes=59, seconds=59, microseconds=123_456)
    assert cal.add(london(2026, 11, 23, 16, 30), left) == london(2026, 11, 24, 9, 29) + timedelta(
        seconds=59, microseconds=123_456
    )


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        uk_office().add(london(2026, 11, 23, 9), -1)
    with pytest.raises(ValueError):
        ALWAYS_OPEN.add(london(2026, 11, 23, 9), timedelta(seconds=-1))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        uk_office().add(datetime(2026, 11, 23, 9), 60)  # noqa: DTZ001


def test_thirty_day_target_over_the_christmas_holidays() -> None:
    """43,200 minutes = 90 eight-hour days: 18 weeks less the two holidays' days back."""
    cal = uk_office()
    start = london(2026, 11, 23, 9)
    due = cal.add(start, 43_200)
    assert cal.between(start, due) == timedelta(minutes=43_200)
    # 90 working days from Mon 2026-11-23, skipping Fri 25 and Mon 28 December; the count
    # completes at the 90th day's closing.
    day, counted = date(2026, 11, 23), 0
    while True:
        if day.weekday() < 5 and day not in (date(2026, 12, 25), date(2026, 12, 28)):
            counted += 1
            if counted == 90:
                break
        day += timedelta(days=1)
    assert due == london(day.year, day.month, day.day, 17)


def test_a_long_target_on_a_thin_profile_spans_many_weeks() -> None:
    """One hour a week and a 30-day target: 720 weeks of counting, each with business time, is a
    valid answer (only weeks in a row *without* business time mean a broken profile)."""
    cal = calendar("Europe/London", sat=[["10:00", "11:00"]])
    start = london(2026, 11, 21, 10)  # a Saturday's opening
    due = cal.add(start, 43_200)
    assert due == london(2040, 9, 1, 11)  # the 720th Saturday's closing
    assert cal.between(start, due) == timedelta(minutes=43_200)


def test_holidays_wiping_out_ten_years_are_refused() -> None:
    sundays = [date(2026, 11, 22) + timedelta(weeks=week) for week in range(600)]
    cal = BusinessCalendar(
        timezone="Europe/London", hours=parse_schedule({"sun": [["10:00", "11:00"]]}), holidays=sundays
    )
    with pytest.raises(ProfileError) as error:
        cal.add(london(2026, 11, 21, 10), 60)
    assert error.value.field == "holidays"


# --- clock changes -----------------------------------------------------------------------------


def test_spring_forward_interval_counts_its_real_length() -> None:
    """01:00-03:00 local on the spring-forward night (London, Sun 2026-03-29) is one hour."""
    cal = calendar("Europe/London", sun=[["01:00", "03:00"]])
    saturday, monday = london(2026, 3, 28, 12), london(2026, 3, 30, 12)
    assert cal.between(saturday, monday) == timedelta(hours=1)
    # Opens at 01:00 GMT (= the change), closes at 03:00 BST (= 02:00Z): one real hour.
    assert cal.add(saturday, 60) == utc(2026, 3, 29, 2)
    assert cal.add(saturday, 61) == london(2026, 4, 5, 1, 1)  # the next Sunday, 01:01 BST
    assert cal.is_open(utc(2026, 3, 29, 1, 30))


def test_spring_forward_skipped_opening_is_placed_at_the_change() -> None:
    """02:00-04:00 in New York on Sun 2026-03-08: 02:00 does not exist, the interval opens at the
    change (03:00 EDT = 07:00Z) and lasts one hour."""
    cal = calendar("America/New_York", sun=[["02:00", "04:00"]])
    saturday = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)
    assert cal.add(saturday, 1) == utc(2026, 3, 8, 7, 1)
    assert cal.between(saturday, saturday + timedelta(days=2)) == timedelta(hours=1)


def test_interval_wholly_inside_the_skipped_hour_has_no_time() -> None:
    cal = calendar("Europe/London", sun=[["01:15", "01:45"]])
    assert cal.between(london(2026, 3, 28, 12), london(2026, 3, 30, 12)) == timedelta(0)
    assert cal.between(london(2026, 3, 21, 12), london(2026, 3, 23, 12)) == timedelta(minutes=30)


def test_fall_back_interval_counts_its_real_length() -> None:
    """00:00-03:00 on the fall-back night (London, Sun 2026-10-25: 01:00-02:00 happens twice) is
    four real hours."""
    cal = calendar("Europe/London", sun=[["00:00", "03:00"]])
    saturday, monday = london(2026, 10, 24, 12), london(2026, 10, 26, 12)
    assert cal.between(saturday, monday) == timedelta(hours=4)
    assert cal.add(saturday, 240) == utc(2026, 10, 25, 3)  # 03:00 GMT
    # The week before: three hours.
    assert cal.between(london(2026, 10, 17, 12), london(2026, 10, 19, 12)) == timedelta(hours=3)


def test_fall_back_boundary_in_the_repeated_hour_is_its_first_occurrence() -> None:
    """01:30 happens twice on Sun 2026-10-25 in London; an interval 01:30-02:00 opens at the first
    (00:30Z) and closes at the first 02:00 (02:00Z): 90 real minutes."""
    cal = calendar("Europe/London", sun=[["01:30", "02:00"]])
    saturday = london(2026, 10, 24, 12)
    assert cal.add(saturday, 1) == utc(2026, 10, 25, 0, 31)
    assert cal.between(saturday, saturday + timedelta(days=2)) == timedelta(minutes=90)


def test_business_days_across_the_uk_clock_changes() -> None:
    """09:00-17:00 is eight real hours on the days after the changes too."""
    cal = uk_office()
    assert cal.add(london(2026, 3, 27, 16), 120) == london(2026, 3, 30, 10)  # Fri GMT -> Mon BST
    assert cal.add(london(2026, 3, 30, 10), 60) == utc(2026, 3, 30, 10)
    assert cal.add(london(2026, 10, 23, 16), 120) == london(2026, 10, 26, 10)  # Fri BST -> Mon GMT
    assert cal.between(london(2026, 10, 23, 9), london(2026, 10, 27, 9)) == timedelta(hours=16)


def test_24x7_counts_real_time_across_spring_forward() -> None:
    start = datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK)  # 05:30Z
    due = ALWAYS_OPEN.add(start, 180)
    assert due == utc(2026, 3, 8, 8, 30)
    assert due.astimezone(NEW_YORK).hour == 4  # three real hours, four wall-clock hours


def test_between_counts_instants_not_wall_clocks_in_the_repeated_hour() -> None:
    """01:30 EDT and 01:10 EST on Sun 2026-11-01 are 40 real minutes apart, although the later
    one shows the earlier wall time (Python compares and subtracts datetimes of one zone by wall
    clock)."""
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)  # 05:30Z
    second = datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NEW_YORK)  # 06:10Z
    whole = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = BusinessCalendar(timezone="America/New_York", hours=parse_schedule(whole))
    for clock in (cal, ALWAYS_OPEN):
        assert clock.between(first, second) == timedelta(minutes=40)
        assert clock.between(second, first) == timedelta(0)


def test_24_00_ends_an_interval_at_the_next_midnight() -> None:
    cal = calendar("Europe/London", fri=[["18:00", "24:00"]], sat=[["00:00", "02:00"]])
    friday = london(2026, 11, 20, 18)
    assert cal.add(friday, 360) == london(2026, 11, 21, 0)  # the closing instant, Sat 00:00
    assert cal.add(friday, 361) == london(2026, 11, 21, 0, 1)  # Saturday's interval runs on
    assert cal.between(friday, london(2026, 11, 21, 2)) == timedelta(hours=8)
    assert not cal.is_open(london(2026, 11, 21, 2))


def test_whole_day_24x7_profile_agrees_with_always_open_away_from_changes() -> None:
    whole = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = BusinessCalendar(timezone="Europe/London", hours=parse_schedule(whole))
    start = london(2026, 10, 24, 22)  # across the fall-back night: real time
    for minutes in (1, 60, 180, 1440, 10_000):
        assert cal.add(start, minutes) == ALWAYS_OPEN.add(start, minutes)


def test_calendars_are_shared_per_profile() -> None:
    assert calendar_for(UK_OFFICE) is calendar_for(dict(UK_OFFICE))


# --- validation of stored profiles -------------------------------------------------------------


def field_of(error: pytest.ExceptionInfo[ProfileError]) -> str:
    return error.value.field


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "schedule.mon[1]"),
        ({"tue": [["13:00", "17:00"], ["09:00", "13:30"]]}, "schedule.tue[0]"),
        ({"wed": [["09:00", "17:00"], ["09:00", "17:00"]]}, "schedule.wed[1]"),
        ({"mon": [["9:00", "17:00"]]}, "schedule.mon[0]"),
        ({"mon": [["09:00", "17:60"]]}, "schedule.mon[0]"),
        ({"mon": [["25:00", "26:00"]]}, "schedule.mon[0]"),
        ({"mon": [["09:00", "24:01"]]}, "schedule.mon[0]"),
        ({"mon": [["24:00", "24:00"]]}, "schedule.mon[0]"),
        ({"mon": [["nine", "17:00"]]}, "schedule.mon[0]"),
        ({"mon": [[900, 1700]]}, "schedule.mon[0]"),
        ({"mon": [["17:00", "09:00"]]}, "schedule.mon[0]"),
        ({"mon": [["09:00", "09:00"]]}, "schedule.mon[0]"),
        ({"mon": [["09:00", "12:00"], ["09:00"]]}, "schedule.mon[1]"),
        ({"mon": "09:00-17:00"}, "schedule.mon"),
        ({"monday": [["09:00", "17:00"]]}, "schedule.monday"),
        ({}, "schedule"),
        ({"mon": [], "sun": []}, "schedule"),
        ([["09:00", "17:00"]], "schedule"),
    ],
)
def test_parse_schedule_refuses_with_the_offending_field(schedule: Any, field: str) -> None:
    with pytest.raises(ProfileError) as error:
        parse_schedule(schedule)
    assert field_of(error) == field


def test_parse_schedule_accepts_24_00_and_adjacent_intervals() -> None:
    hours = parse_schedule({"mon": [["13:00", "24:00"], ["00:00", "13:00"]], "sat": [["10:00", "14:00"]]})
    assert hours == (((0, 780), (780, 1440)), (), (), (), (), ((600, 840),), ())


def test_a_profile_with_no_open_time_is_rejected() -> None:
    with pytest.raises(ProfileError) as error:
        calendar_for({"timezone": "Europe/London", "schedule": {"mon": []}, "holidays": []})
    assert field_of(error) == "schedule"
    with pytest.raises(ProfileError) as error:
        BusinessCalendar(timezone="Europe/London", hours=((),) * 7)
    assert field_of(error) == "schedule"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "europe/london", "GMT+25", "", None, 1, ["UTC"]])
def test_parse_timezone_refuses_unknown_zones(name: Any) -> None:
    with pytest.raises(ProfileError) as error:
        parse_timezone(name)
    assert field_of(error) == "timezone"


@pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"])
def test_parse_timezone_accepts_iana_zones(name: str) -> None:
    assert parse_timezone(name) == name


def test_calendar_for_names_a_bad_timezone() -> None:
    with pytest.raises(ProfileError) as error:
        calendar_for({**UK_OFFICE, "timezone": "Europe/Londres"})
    assert field_of(error) == "timezone"


@pytest.mark.parametrize(
    ("holidays", "field"),
    [
        (["2026-12-25", "2026-13-01"], "holidays[1]"),
        (["2026-02-30"], "holidays[0]"),
        (["25/12/2026"], "holidays[0]"),
        ([None], "holidays[0]"),
        (["2026-12-25", 20261228], "holidays[1]"),
        ("2026-12-25", "holidays"),
        ({"2026-12-25": "Christmas"}, "holidays"),
    ],
)
def test_parse_holidays_refuses_with_the_offending_field(holidays: Any, field: str) -> None:
    with pytest.raises(ProfileError) as error:
        parse_holidays(holidays)
    assert field_of(error) == field


def test_parse_holidays_sorts_and_deduplicates() -> None:
    assert parse_holidays(["2026-12-28", "2026-12-25", "2026-12-28"]) == [
        date(2026, 12, 25),
        date(2026, 12, 28),
    ]
    assert parse_holidays([]) == []


def test_profile_error_is_a_value_error_with_message() -> None:
    with pytest.raises(ValueError, match=r"^schedule\.mon\[1\]: overlaps schedule\.mon\[0\]$"):
        parse_schedule({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]})
