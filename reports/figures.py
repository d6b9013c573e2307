"""The monthly figures of many customers at once (``spec/reports.md``), a few set-based statements
for all of them: over the public ticket index, whose rows carry each ticket's month facts in the
customer's own zone (``tickets.index.services.month_facts``: the local month it was created, each
clock ended and breached, it was resolved), over the time entries, and over the month-end records
(assets and users at a month's last instant; for a month not over yet, the live counts).

A customer's month runs from local midnight on the 1st to local midnight on the 1st of the next
month in the customer's own zone. The month columns are written with each index row; a change of a
customer's zone applies to rows written after it (``manage.py rebuild_ticket_index`` rewrites the
rest, ``manage.py rebuild_report_figures`` finds them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from cmdb.inventory.models import AssetCount
from contracts.models import TimeEntry
from core.parsers import zone_or_utc
from reports.models import MonthEnd
from tenants.models import Customer
from tenants.replica import reading_connection

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


# Each count reads one month of one of the ticket index's month columns (YYYYMM in the customer's
# own zone, written with the row: ``tickets.index.services.month_facts``) for every customer at
# once, from an index whose order is (month, customer): no join, no heap.
_IN_MONTH = """SELECT customer_id, count(*), count(*) FILTER (WHERE {met}) FROM public.ticket_index
WHERE {column} = %s AND customer_id = ANY(%s::bigint[])
GROUP BY customer_id"""

# Resolved in an earlier month than its last resolution (reopened, resolved again): few rows.
_RESOLVED_EARLIER = """SELECT customer_id, count(*), 0 FROM public.ticket_index
WHERE earlier_resolved_months @> ARRAY[%s]::integer[] AND customer_id = ANY(%s::bigint[])
GROUP BY customer_id"""

# Not resolved or closed at the month's last instant: created before the month's end (in it or
# earlier) and its final stop (if any) at or after it. A ticket that was reopened must not be inside
# one of its earlier stops then; those few are checked instant by instant.
_OPEN = f"""SELECT customer_id, count(*) FROM public.ticket_index
WHERE active_until_month > %(month)s AND created_month <= %(month)s AND stopped_spans = '{{}}'
  AND customer_id = ANY(%(ids)s::bigint[])
GROUP BY customer_id
UNION ALL
SELECT t.customer_id, count(*) FROM public.ticket_index t
JOIN public.{Customer._meta.db_table} c ON c.id = t.customer_id
CROSS JOIN LATERAL (SELECT %(after)s::timestamp AT TIME ZONE c.timezone AS e) b
WHERE t.stopped_spans <> '{{}}' AND t.active_until >= %(earliest)s AND t.customer_id = ANY(%(ids)s::bigint[])
  AND t.active_until >= b.e AND t.created_at < b.e
  AND NOT EXISTS (SELECT 1 FROM unnest(t.stopped_spans) span WHERE span @> b.e)
GROUP BY t.customer_id"""  # noqa: S608

_TIME = f"""SELECT customer_id, sum(minutes), sum(minutes) FILTER (WHERE billable)
FROM public.{TimeEntry._meta.db_table}
WHERE work_date >= %(month)s AND work_date < %(after)s AND customer_id = ANY(%(ids)s::bigint[])
GROUP BY customer_id"""  # noqa: S608

_RECORDED = f"""SELECT customer_id, assets, users FROM public.{MonthEnd._meta.db_table}
WHERE month = %(month)s AND customer_id = ANY(%(ids)s::bigint[])"""  # noqa: S608

_ASSETS = f"""SELECT customer_id, type, sum(count) FROM public.{AssetCount._meta.db_table}
WHERE count > 0 AND status <> 'retired' AND customer_id = ANY(%(ids)s::bigint[])
GROUP BY customer_id, type"""  # noqa: S608

_USERS = f"""SELECT customer_id, count(*) FROM public.{User._meta.db_table}
WHERE is_active AND customer_id = ANY(%(ids)s::bigint[])
GROUP BY customer_id"""  # noqa: S608


EARLIEST_OFFSET = timedelta(hours=14)  # the zone furthest ahead of UTC (Pacific/Kiritimati)


def _in_month(column: str, met: str = "true") -> str:
    return _IN_MONTH.format(column=column, met=met)


def _rows(statement: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
    with reading_connection().cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall())


def _pct(met: int, ended: int) -> float | None:
    return None if ended == 0 else round(100 * met / ended, 1)


def monthly_figures(customers: Sequence[Customer], month: date) -> dict[int, dict[str, Any]]:
    """Customer id -> the figures of ``month`` (reports.md), for all ``customers`` at once."""
    ids = [customer.pk for customer in customers]
    if not ids:
        return {}
    key = month_key(month)
    result: dict[int, dict[str, Any]] = {
        pk: {"tickets_created": 0, "tickets_resolved": 0, "open_tickets": 0, "breaches": 0} for pk in ids
    }
    asked = [key, ids]
    for pk, n, _ in _rows(_in_month("created_month"), asked):
        result[pk]["tickets_created"] = n
    for statement in (_in_month("last_resolved_month"), _RESOLVED_EARLIER):
        for pk, n, _ in _rows(statement, asked):
            result[pk]["tickets_resolved"] += n
    for clock, name in (("first_response", "first_response_met_pct"), ("resolution", "resolution_met_pct")):
        ended = dict.fromkeys(ids, (0, 0))
        for pk, n, met in _rows(_in_month(f"{clock}_ended_month", f"{clock}_breached_at IS NULL"), asked):
            ended[pk] = (n, met)
        for pk, (n, met) in ended.items():
            result[pk][name] = _pct(met, n)
            result[pk][f"{clock}_clocks_ended"] = n
        for pk, n, _ in _rows(_in_month(f"{clock}_breached_month"), asked):
            result[pk]["breaches"] += n
    after = next_month(month)
    end = datetime.combine(after, time(0))
    # The earliest any customer's month can end (UTC+14), so the reopened tickets are read by range.
    named = {"month": key, "ids": ids, "after": end, "earliest": end.replace(tzinfo=UTC) - EARLIEST_OFFSET}
    for pk, n in _rows(_OPEN, named):
        result[pk]["open_tickets"] += n
    for pk in ids:
        result[pk]["time_minutes"] = result[pk]["billable_minutes"] = 0
    for pk, total, billable in _rows(_TIME, {"month": month, "after": after, "ids": ids}):
        result[pk]["time_minutes"], result[pk]["billable_minutes"] = int(total or 0), int(billable or 0)
    _month_end(result, ids, month)
    return result


def _month_end(result: dict[int, dict[str, Any]], ids: list[int], month: date) -> None:
    """Assets and users at the month's last instant: as recorded when it ended, else (the month
    is not over, or ended before the record was kept) as they are now."""
    recorded = {pk: (assets, users) for pk, assets, users in _rows(_RECORDED, {"month": month, "ids": ids})}
    live = [pk for pk in ids if pk not in recorded]
    assets: dict[int, dict[str, int]] = {pk: {} for pk in live}
    users: dict[int, int] = {}
    if live:
        for pk, ci_type, n in _rows(_ASSETS, {"ids": live}):
            assets[pk][ci_type] = int(n)
        users = {pk: n for pk, n in _rows(_USERS, {"ids": live})}
    for pk in ids:
        found, count = recorded.get(pk) or (assets[pk], users.get(pk, 0))
        if isinstance(found, str):  # jsonb read by a raw cursor
            found = json.loads(found)
        result[pk]["assets"] = dict(sorted(found.items()))
        result[pk]["users"] = count


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
        for pk, figures in monthly_figures(group, month).items():
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
