"""The monthly figures of many customers at once (``spec/reports.md``), one set-based query per
figure over the public tables: the ticket index (whose rows carry each ticket's month facts,
``tickets.index.services.month_facts``), the time entries, and the month-end records (assets and
users at a month's last instant; for a month not over yet, the live counts).

A customer's month runs from local midnight on the 1st to local midnight on the 1st of the next
month in the customer's own zone. The bounds are computed here for each customer and travel to
the database as arrays, so a thousand customers are still one statement per figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import User
from cmdb.inventory.models import AssetCount
from contracts.models import TimeEntry
from core.parsers import zone_or_utc
from reports.models import MonthEnd
from tenants.models import Customer

FIGURES = (
    "tickets_created",
    "tickets_resolved",
    "open_tickets",
    "first_response_met_pct",
    "resolution_met_pct",
    "breaches",
    "assets",
    "users",
    "time_minutes",
    "billable_minutes",
)


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Bounds:
    customer_id: int
    start: datetime
    end: datetime


def bounds_of(customer: Customer, month: date) -> Bounds:
    zone = zone_or_utc(customer.timezone)
    start = datetime.combine(month, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(next_month(month), time(0), tzinfo=zone).astimezone(UTC)
    return Bounds(customer.pk, start, end)


def month_key(month: date) -> int:
    return month.year * 100 + month.month


# Each statement takes the customers' bounds as three arrays (ids, starts, ends) and its own
# parameters after them; ``b`` is one row per customer.
_BOUNDS = (
    "WITH b AS (SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS b(id, s, e))"
)

_CREATED = f"""{_BOUNDS}
SELECT b.id, count(t.id) FROM b JOIN public.ticket_index t
    ON t.customer_id = b.id AND t.created_at >= b.s AND t.created_at < b.e
GROUP BY b.id"""  # noqa: S608

_RESOLVED = """SELECT customer_id, count(*) FROM public.ticket_index
WHERE resolved_months @> ARRAY[%s]::integer[] AND customer_id = ANY(%s::bigint[])
GROUP BY customer_id"""

# The clocks that ended in the month (stopped, or breached while running) and how many of them met.
_CLOCK = """{bounds}
SELECT b.id, count(*), count(*) FILTER (WHERE t.{clock}_breached_at IS NULL)
FROM public.ticket_index t JOIN b ON t.customer_id = b.id
WHERE t.{clock}_ended_at >= %s AND t.{clock}_ended_at < %s
  AND t.{clock}_ended_at >= b.s AND t.{clock}_ended_at < b.e
GROUP BY b.id"""

_BREACHES = f"""{_BOUNDS}
SELECT b.id, count(*) FROM (
    SELECT customer_id, first_response_breached_at AS at FROM public.ticket_index
     WHERE first_response_breached_at >= %s AND first_response_breached_at < %s
    UNION ALL
    SELECT customer_id, resolution_breached_at FROM public.ticket_index
     WHERE resolution_breached_at >= %s AND resolution_breached_at < %s
) x JOIN b ON x.customer_id = b.id AND x.at >= b.s AND x.at < b.e
GROUP BY b.id"""  # noqa: S608

# Not resolved or closed at the month's last instant: created before the end, and not inside a
# stop then (the final stop starts after it, and no earlier, closed stop covers it).
_OPEN = f"""{_BOUNDS}
SELECT b.id, count(*) FROM public.ticket_index t JOIN b ON t.customer_id = b.id
WHERE t.active_until > %s AND t.active_until > b.e AND t.created_at < b.e
  AND NOT EXISTS (SELECT 1 FROM unnest(t.stopped_spans) span WHERE span @> b.e)
GROUP BY b.id"""  # noqa: S608


def _rows(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall())


def _pct(met: int, ended: int) -> float | None:
    return None if ended == 0 else round(100 * met / ended, 1)


def monthly_figures(
    customers: Sequence[Customer], month: date, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """Customer id -> the figures of ``month`` (reports.md), for all ``customers`` at once."""
    now = now or timezone.now()
    bounds = [bounds_of(customer, month) for customer in customers]
    if not bounds:
        return {}
    ids = [b.customer_id for b in bounds]
    arrays = [ids, [b.start for b in bounds], [b.end for b in bounds]]
    low, high = min(b.start for b in bounds), max(b.end for b in bounds)
    result: dict[int, dict[str, Any]] = {
        pk: {"tickets_created": 0, "tickets_resolved": 0, "open_tickets": 0, "breaches": 0} for pk in ids
    }
    for pk, n in _rows(_CREATED, arrays):
        result[pk]["tickets_created"] = n
    for pk, n in _rows(_RESOLVED, [month_key(month), ids]):
        result[pk]["tickets_resolved"] = n
    for clock, name in (("first_response", "first_response_met_pct"), ("resolution", "resolution_met_pct")):
        ended = {pk: (0, 0) for pk in ids}
        for pk, n, met in _rows(_CLOCK.format(bounds=_BOUNDS, clock=clock), [*arrays, low, high]):
            ended[pk] = (n, met)
        for pk, (n, met) in ended.items():
            result[pk][name] = _pct(met, n)
            result[pk][f"{clock}_clocks_ended"] = n
    for pk, n in _rows(_BREACHES, [*arrays, low, high, low, high]):
        result[pk]["breaches"] = n
    for pk, n in _rows(_OPEN, [*arrays, min(b.end for b in bounds)]):
        result[pk]["open_tickets"] = n
    _time(result, ids, month)
    _month_end(result, customers, month, now)
    return result


def _time(result: dict[int, dict[str, Any]], ids: list[int], month: date) -> None:
    rows = (
        TimeEntry.objects.filter(customer_id__in=ids, work_date__gte=month, work_date__lt=next_month(month))
        .values("customer_id")
        .annotate(total=Sum("minutes"), billable=Sum("minutes", filter=Q(billable=True)))
    )
    for pk in ids:
        result[pk]["time_minutes"] = result[pk]["billable_minutes"] = 0
    for row in rows:
        result[row["customer_id"]]["time_minutes"] = int(row["total"] or 0)
        result[row["customer_id"]]["billable_minutes"] = int(row["billable"] or 0)


def _month_end(
    result: dict[int, dict[str, Any]], customers: Sequence[Customer], month: date, now: datetime
) -> None:
    """Assets and users at the month's last instant: as recorded when it ended, else (the month
    is not over, or ended before the record was kept) as they are now."""
    recorded = {
        row.customer_id: row for row in MonthEnd.objects.filter(month=month, customer__in=list(result))
    }
    live = [c.pk for c in customers if c.pk not in recorded]
    assets: dict[int, Counter[str]] = {pk: Counter() for pk in live}
    users: dict[int, int] = {}
    if live:
        counts = (
            AssetCount.objects.filter(customer_id__in=live, count__gt=0)
            .exclude(status="retired")
            .values_list("customer_id", "type")
            .annotate(n=Sum("count"))
        )
        for pk, ci_type, n in counts:
            assets[pk][ci_type] += n
        users = dict(
            User.objects.filter(customer_id__in=live, is_active=True)
            .values_list("customer_id")
            .annotate(n=Count("id"))
            .values_list("customer_id", "n")
        )
    for pk in result:
        if pk in recorded:
            result[pk]["assets"] = dict(sorted(recorded[pk].assets.items()))
            result[pk]["users"] = recorded[pk].users
        else:
            result[pk]["assets"] = dict(sorted(assets[pk].items()))
            result[pk]["users"] = users.get(pk, 0)


def month_ends_record(now: datetime | None = None) -> int:
    """Record assets and users of every customer whose previous month has ended (local midnight
    in its zone) and is not recorded yet (beat: ``reports.record_month_ends``): the live counts,
    a few statements for all customers; a second run finds them recorded."""
    now = now or timezone.now()
    current: dict[int, date] = {}
    for customer in Customer.objects.customers():
        current[customer.pk] = now.astimezone(zone_or_utc(customer.timezone)).date().replace(day=1)
    previous = {pk: (first - timedelta(days=1)).replace(day=1) for pk, first in current.items()}
    recorded = set(
        MonthEnd.objects.filter(month__in=set(previous.values())).values_list("customer_id", "month")
    )
    wanted = [pk for pk, month in previous.items() if (pk, month) not in recorded]
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=wanted)}
    rows = []
    for month in {current[pk] for pk in wanted}:
        group = [customers[pk] for pk in wanted if current[pk] == month]
        for pk, figures in monthly_figures(group, month, now).items():
            rows.append(
                MonthEnd(
                    customer_id=pk,
                    month=previous[pk],
                    assets=figures["assets"],
                    users=figures["users"],
                    recorded_at=now,
                )
            )
    MonthEnd.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
