"""The unified queue: one indexed query over the public index, keyset-paginated.

A page is ``ORDER BY <key>, id LIMIT n+1`` continuing after the last row of the previous page
(a cursor holding that row's key), so page 1 and page 1,000 cost the same and nothing counts
the whole set unless asked to.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from accounts.models import User
from tenants.access import customers_visible_to
from tickets.index.models import NO_DUE, TicketIndexEntry
from tickets.index.services import PROJECTED
from tickets.models import Priority, Status

# ordering -> ((field, descending), (tie-break, descending)); ties break newest first.
ORDERINGS: dict[str, tuple[tuple[str, bool], tuple[str, bool]]] = {
    "resolution_due": (("due_sort", False), ("id", True)),
    "-resolution_due": (("due_sort", True), ("id", False)),
    "created_at": (("created_at", False), ("id", False)),
    "-created_at": (("created_at", True), ("id", True)),
    "updated_at": (("updated_at", False), ("id", False)),
    "-updated_at": (("updated_at", True), ("id", True)),
    "priority": (("priority", False), ("id", True)),
    "-priority": (("priority", True), ("id", False)),
}
DEFAULT_ORDERING = "resolution_due"


@dataclass(frozen=True)
class QueueFilters:
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()  # slugs
    assignee: str = ""  # "", "me", "none" or a user id
    ordering: str = DEFAULT_ORDERING


def csv_values(raw: str, allowed: list[str] | None, name: str) -> tuple[str, ...]:
    """A comma-separated query parameter, each value checked against ``allowed``."""
    values = tuple(value.strip() for value in raw.split(",") if value.strip())
    if allowed is not None:
        wrong = [value for value in values if value not in allowed]
        if wrong:
            raise ValidationError({name: [f"Unknown value(s) {', '.join(wrong)}; use {', '.join(allowed)}."]})
    return values


def filters_from(params: Any) -> QueueFilters:
    """Read and validate query parameters (a QueryDict or a plain dict of strings)."""
    ordering = params.get("ordering") or DEFAULT_ORDERING
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Use one of {', '.join(ORDERINGS)}."]})
    assignee = (params.get("assignee") or "").strip()
    if assignee and assignee not in ("me", "none") and not assignee.isdigit():
        raise ValidationError({"assignee": ["Use an agent's id, 'me' or 'none'."]})
    return QueueFilters(
        statuses=csv_values(params.get("status") or "", Status.values, "status"),
        priorities=csv_values(params.get("priority") or "", Priority.values, "priority"),
        customers=csv_values(params.get("customer") or "", None, "customer"),
        assignee=assignee,
        ordering=ordering,
    )


# What a queue row carries: only the columns the queue shows, read as plain dicts (building model
# instances and serializing them cost three times the query itself on a 50-row page).
ROW_FIELDS = ("id", "ticket_id", *(name for name in PROJECTED if name != "due_sort"))
ROW_JOINED = {
    "customer_slug": F("customer__slug"),
    "customer_name": F("customer__name"),
    "assignee_name": F("assignee__name"),
}


def queue_entries(user: User, filters: QueueFilters) -> QuerySet[TicketIndexEntry]:
    """Every indexed ticket of the active customers ``user`` may see, filtered (not ordered)."""
    visible = customers_visible_to(user).filter(is_active=True).values("pk")
    entries = TicketIndexEntry.objects.filter(customer__in=visible)
    if filters.statuses:
        entries = entries.filter(status__in=filters.statuses)
    if filters.priorities:
        entries = entries.filter(priority__in=filters.priorities)
    if filters.customers:
        entries = entries.filter(customer__slug__in=filters.customers)
    if filters.assignee == "me":
        entries = entries.filter(assignee=user)
    elif filters.assignee == "none":
        entries = entries.filter(assignee__isnull=True)
    elif filters.assignee:
        entries = entries.filter(assignee_id=int(filters.assignee))
    return entries


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(values: tuple[Any, Any], ordering: str, backwards: bool) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps({"o": ordering, "k": plain, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, ordering: str) -> tuple[tuple[Any, Any], bool]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, backwards = data["k"], bool(data["b"])
        if data["o"] != ordering or len(key) != 2:
            raise ValueError
        first = datetime.fromisoformat(key[0]) if ORDERINGS[ordering][0][0] != "priority" else str(key[0])
        return (first, int(key[1])), backwards
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            {"cursor": ["This cursor is not valid for this query; start from page 1."]}
        ) from None


def _after(keys: tuple[tuple[str, bool], tuple[str, bool]], values: tuple[Any, Any], flip: bool) -> Q:
    (first, first_desc), (second, second_desc) = keys

    def beyond(name: str, descending: bool, value: Any) -> Q:
        return Q(**{f"{name}__{'lt' if descending != flip else 'gt'}": value})

    return beyond(first, first_desc, values[0]) | (
        Q(**{first: values[0]}) & beyond(second, second_desc, values[1])
    )


def queue_page(entries: QuerySet[TicketIndexEntry], ordering: str, cursor: str | None, size: int) -> Page:
    keys = ORDERINGS[ordering]
    backwards = False
    if cursor:
        values, backwards = _decode(cursor, ordering)
        entries = entries.filter(_after(keys, values, flip=backwards))
    order = [f"{'-' if desc != backwards else ''}{name}" for name, desc in keys]
    rows = list(entries.order_by(*order).values(*ROW_FIELDS, **ROW_JOINED)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key_of(row: dict[str, Any]) -> tuple[Any, Any]:
        if keys[0][0] == "due_sort":  # not selected: it is the due time, or NO_DUE without one
            return (row["resolution_due"] or NO_DUE, row[keys[1][0]])
        return (row[keys[0][0]], row[keys[1][0]])

    has_next = (more and not backwards) or (backwards and cursor is not None)
    has_previous = (more and backwards) or (not backwards and cursor is not None)
    return Page(
        rows=rows,
        next_cursor=_encode(key_of(rows[-1]), ordering, False) if rows and has_next else None,
        previous_cursor=_encode(key_of(rows[0]), ordering, True) if rows and has_previous else None,
    )
