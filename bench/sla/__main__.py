"""SLA benchmark.

Section 1, business-time arithmetic (no database): ``BusinessCalendar.add`` calls per second on
the "UK office" profile of ``spec/sla.md`` (Europe/London, Mon-Fri 09:00-17:00, its holidays
2026-12-25 and 2026-12-28) with England's bank holidays for 2026-2027 added (from the
``holidays`` package, stored as plain dates as a profile stores them), for an 8-hour (480 min),
a 5-day (2,400 min) and a 30-day (43,200 min) target. STARTS random start instants (UTC, whole
seconds, spread over 2026, both clock changes included, fixed seed) are drawn before anything is
timed. Before timing, every due time is checked (``between(start, add(start, m)) == m``) and the
worked examples of sla.md must come out. Each target then gets one untimed pass (the calendar
lays out each week once and reuses it, as the shared calendar of a profile does in the app) and
REPEATS timed passes over all starts, the targets in turn so that drift hits all alike; each pass
is timed in batches of BATCH calls (``time.perf_counter``). For information it also times
``between(start, due)`` and the first pass of a fresh calendar (weeks laid out as they are met).

Targets: >= 100,000 ``add`` calls per second for 8-hour targets, and the 30-day rate >= 1/3 of the
8-hour rate (median pass against median pass): a 30-day target must not cost 90 business days'
worth of steps.

Section 2, the sweep (``bench/sla/sweep_bench.py``, in the throw-away bench database): see that
module. ``SLA_BENCH_SECTIONS=calendar`` runs section 1 only; ``SLA_BENCH_SIZES=10,100`` changes
the sweep's sizes.

Run: ``python3 dev.py bench sla`` (or ``make bench-sla``). Section 1 alone needs no database:
``.venv/bin/python bench/sla``. ``SLA_BENCH_STARTS`` and ``SLA_BENCH_REPEATS`` change the number
of starts and timed passes. ``--smoke`` for tiny sizes (2,000 starts, 2 passes; the sweep at 3
customers: it runs, its figures mean nothing).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/sla: run as ``python bench/sla``
BENCH = HERE.parent
ROOT = BENCH.parent
# The project first (its ``sla`` app, not this folder); bench/ for ``provision``; this folder
# last, for its sections (``sweep_bench``).
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH), str(HERE)]

from provision import log, p95, print_verdict, smoke  # noqa: E402

STARTS = int(os.environ.get("SLA_BENCH_STARTS", "2000" if smoke() else "24000"))
REPEATS = int(os.environ.get("SLA_BENCH_REPEATS", "2" if smoke() else "7"))
BATCH = 1_000  # calls per timed batch
SEED = 20261118
TARGETS = {"8 hours": 480, "5 days": 2_400, "30 days": 43_200}  # label -> business minutes
YEAR_FROM, YEAR_TO = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)

TARGET_RATE_8H = 100_000  # add calls per second
TARGET_RATIO = 1 / 3  # 30-day rate / 8-hour rate

Check = tuple[str, bool, str]


# --- section 1: business-time arithmetic -------------------------------------------------------


def uk_office_profile() -> dict[str, Any]:
    """sla.md's "UK office", with England's bank holidays for 2026-2027 added."""
    import holidays

    bank_holidays = holidays.country_holidays("GB", subdiv="ENG", years=(2026, 2027))
    days = sorted({*bank_holidays, date(2026, 12, 25), date(2026, 12, 28)})
    return {
        "timezone": "Europe/London",
        "schedule": {
            "mon": [["09:00", "17:00"]],
            "tue": [["09:00", "17:00"]],
            "wed": [["09:00", "17:00"]],
            "thu": [["09:00", "17:00"]],
            "fri": [["09:00", "17:00"]],
            "sat": [],
            "sun": [],
        },
        "holidays": [day.isoformat() for day in days],
    }


def random_starts(count: int) -> list[datetime]:
    """``count`` instants (UTC, whole seconds) spread over 2026, open hours or not."""
    rng = random.Random(SEED)  # noqa: S311
    seconds = int((YEAR_TO - YEAR_FROM).total_seconds())
    return [YEAR_FROM + timedelta(seconds=rng.randrange(seconds)) for _ in range(count)]


def check_answers(calendar: Any, starts: list[datetime]) -> int:
    """sla.md's worked examples, and ``between(start, add(start, m)) == m`` for every start and
    target; returns the number of checks. Raises if anything is wrong."""
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    examples = [
        ((2026, 11, 18, 16, 30), 480, (2026, 11, 19, 16, 30)),
        ((2026, 11, 21, 10, 0), 120, (2026, 11, 23, 11, 0)),
        ((2026, 12, 24, 15, 0), 480, (2026, 12, 29, 15, 0)),
        ((2026, 11, 23, 8, 0), 480, (2026, 11, 23, 17, 0)),
    ]
    for begins, minutes, wanted in examples:
        got = calendar.add(datetime(*begins, tzinfo=london), minutes).astimezone(london)
        if got != datetime(*wanted, tzinfo=london):
            raise AssertionError(f"sla.md: {begins} + {minutes} min should be {wanted}, got {got}")
    checked = len(examples)
    for minutes in TARGETS.values():
        amount = timedelta(minutes=minutes)
        for start in starts:
            due = calendar.add(start, minutes)
            if calendar.between(start, due) != amount or due <= start:
                raise AssertionError(f"between({start}, add({start}, {minutes})) is not {minutes} min")
            checked += 1
    return checked


@dataclass
class Series:
    label: str
    minutes: int
    passes: list[float]  # seconds per pass over all starts
    batches: list[float]  # microseconds per call, per batch of BATCH calls

    @property
    def rates(self) -> list[float]:
        return [STARTS / seconds for seconds in self.passes]

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates)


def timed_pass(call: Callable[[datetime, int], object], starts: list[datetime], minutes: int) -> list[float]:
    """One pass over all starts; seconds per batch of BATCH calls."""
    clock = time.perf_counter
    batches = []
    for first in range(0, len(starts), BATCH):
        batch = starts[first : first + BATCH]
        began = clock()
        for start in batch:
            call(start, minutes)
        batches.append(clock() - began)
    return batches


def time_calls(call: Callable[[datetime, int], object], starts: list[datetime]) -> dict[str, Series]:
    """One untimed pass per target, then REPEATS timed passes, the targets in turn."""
    series = {label: Series(label, minutes, [], []) for label, minutes in TARGETS.items()}
    for minutes in TARGETS.values():
        timed_pass(call, starts, minutes)
    for _ in range(REPEATS):
        for one in series.values():
            batches = timed_pass(call, starts, one.minutes)
            one.passes.append(sum(batches))
            one.batches.extend(seconds / BATCH * 1e6 for seconds in batches)
    return series


def first_passes(profile: dict[str, Any], starts: list[datetime]) -> dict[str, float]:
    """For information: calls per second on a fresh calendar's first pass per target (each
    week is laid out when first met; a shared calendar does this once per profile)."""
    from sla.engine.calendar import BusinessCalendar, parse_holidays, parse_schedule

    rates = {}
    for label, minutes in TARGETS.items():
        fresh = BusinessCalendar(
            timezone=profile["timezone"],
            hours=parse_schedule(profile["schedule"]),
            holidays=parse_holidays(profile["holidays"]),
        )
        rates[label] = STARTS / sum(timed_pass(fresh.add, starts, minutes))
    return rates


def calendar_section() -> list[Check]:
    """Section 1; returns its PASS/FAIL checks."""
    from sla.engine.calendar import calendar_for

    profile = uk_office_profile()
    calendar = calendar_for(profile)
    log("==> section 1: business-time add (no database)")
    started = time.perf_counter()
    starts = random_starts(STARTS)
    checked = check_answers(calendar, starts)
    log(f"    {checked:,} due times checked (sla.md's examples, between(start, add(start, m)) == m)")

    adds = time_calls(calendar.add, starts)
    dues = {label: [calendar.add(start, minutes) for start in starts] for label, minutes in TARGETS.items()}
    betweens = {}
    for label, due_list in dues.items():  # for information
        pairs = list(zip(starts, due_list, strict=True))
        began = time.perf_counter()
        for _ in range(REPEATS):
            for start, due in pairs:
                calendar.between(start, due)
        betweens[label] = STARTS * REPEATS / (time.perf_counter() - began)
    fresh = first_passes(profile, starts)
    took = time.perf_counter() - started

    log("")
    log(
        f"Business-time add, UK office profile (Europe/London, Mon-Fri 09:00-17:00, "
        f"{len(profile['holidays'])} holidays in 2026-2027),"
    )
    log(
        f"{STARTS:,} random starts over 2026, {REPEATS} timed passes per target after one untimed; "
        f"batches of {BATCH:,} calls."
    )
    header = (
        f"{'target':<8} {'minutes':>7}  {'median /s':>10}  {'worst /s':>10}  {'best /s':>10}"
        f"  {'us/call med':>11}  {'us/call p95':>11}  {'between /s':>10}  {'fresh /s':>9}"
    )
    log(header)
    log("-" * len(header))
    for label, one in adds.items():
        log(
            f"{label:<8} {one.minutes:>7}  {one.median_rate:>10,.0f}  {min(one.rates):>10,.0f}"
            f"  {max(one.rates):>10,.0f}  {statistics.median(one.batches):>11.2f}  {p95(one.batches):>11.2f}"
            f"  {betweens[label]:>10,.0f}  {fresh[label]:>9,.0f}"
        )
    short, long = adds["8 hours"].median_rate, adds["30 days"].median_rate
    ratio = long / short
    log(f"30 days / 8 hours: {ratio:.2f} (median rates)")
    log("us/call: per batch of calls; between /s: between(start, due) (information);")
    log("fresh /s: first pass of a new calendar, laying out weeks as met (information).")
    log(f"Section 1 took {took:.0f} s.")
    return [
        (f"add(start, m) due times are right ({checked:,} checks)", True, "checked before timing"),
        (
            f"add >= {TARGET_RATE_8H:,} calls/s for 8-hour targets (median pass)",
            short >= TARGET_RATE_8H,
            f"{short:,.0f}/s",
        ),
        (
            "30-day rate >= 1/3 of the 8-hour rate (median passes)",
            ratio >= TARGET_RATIO,
            f"{ratio:.2f}",
        ),
    ]


# --- the benchmark -----------------------------------------------------------------------------


def main() -> int:
    checks = calendar_section()
    if os.environ.get("SLA_BENCH_SECTIONS", "calendar,sweep") != "calendar":
        # this folder is on sys.path (above); mypy knows the file as sla.sweep_bench
        import sweep_bench as sweep  # type: ignore[import-not-found]
        from provision import in_bench_database

        log("")
        log("Section 2: the sweep")
        env = {"CELERY_QUEUE": sweep.CELERY_QUEUE, "EMAIL_URL": "locmem:"}
        in_bench_database(lambda _url: checks.extend(sweep.run_sweep()), env=env)
    print_verdict(checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
