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
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from accounts.models import User
from core.parsers import in_range, is_id, json_problem
from tenants.access import customers_visible_to
from tickets.index.models import NO_DUE, TicketIndexEntry
from tickets.index.services import PROJECTED
from tickets.models import Priority

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
    # The earlier running clock's due (first response, then resolution; paused ones last).
    "next_due": (("next_due_sort", False), ("id", True)),
    "-next_due": (("next_due_sort", True), ("id", False)),
}
DEFAULT_ORDERING = "resolution_due"
# An agent's id (at most 18 digits: a bigint), "me" or "none".


SORT_ONLY = {"due_sort": "resolution_due", "next_due_sort": "sla_due"}  # sort key -> the due it stands for
# What a queue row carries: only the columns the queue shows, read as plain dicts (building model
# instances and serializing them cost three times the query itself on a 50-row page).
ROW_FIELDS = ("id", "ticket_id", *(name for name in PROJECTED if name not in SORT_ONLY))
ROW_JOINED = {
    "customer_slug": F("customer__slug"),
    "customer_name": F("customer__name"),
    "assignee_name": F("assignee__name"),
}


def queue_entries(user: User) -> QuerySet[TicketIndexEntry]:
    """Every indexed ticket of the active customers ``user`` may see (not filtered, not ordered:
    ``tickets.filtersets.QueueFilterSet`` filters, ``queue_page`` orders and pages)."""
    visible = customers_visible_to(user).filter(is_active=True).values("pk")
    return TicketIndexEntry.objects.filter(customer__in=visible)


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(values: tuple[Any, Any], ordering: str, backwards: bool) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps({"o": ordering, "k": plain, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSOR_REFUSED = "This cursor is not valid for this query; start from page 1."
MAX_CURSOR = 512


def _decode(cursor: str, ordering: str) -> tuple[tuple[Any, Any], bool]:
    """The row a cursor continues after, and its direction. A cursor is ours only if it decodes
    to exactly what ``_encode`` writes: the same ordering, an instant in range (or a priority)
    and an id; anything else (tampered, truncated, ``Infinity``, NUL, another offset) is a 400."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if json_problem(raw) is not None:
            raise ValueError
        data = json.loads(raw, parse_constant=_no_constant)
        key, backwards = data["k"], data["b"]
        if set(data) != {"o", "k", "b"} or data["o"] != ordering or not isinstance(backwards, bool):
            raise ValueError
        if not isinstance(key, list) or len(key) != 2 or not is_id(key[1]):
            raise ValueError
        return (_key_value(ordering, key[0]), int(key[1])), backwards
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": [CURSOR_REFUSED]}) from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a cursor value")


def _key_value(ordering: str, value: object) -> datetime | str:
    """The sort key of a cursor: a priority, or an instant written as ``_encode`` writes it
    (UTC, in range)."""
    if ORDERINGS[ordering][0][0] == "priority":
        if value not in Priority.values:
            raise ValueError
        return str(value)
    if not isinstance(value, str):
        raise ValueError
    at = datetime.fromisoformat(value)
    if at.utcoffset() != timedelta(0) or not (in_range(at) or at == NO_DUE):
        raise ValueError
    return at


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
        if keys[0][0] in SORT_ONLY:  # not selected: it is the due time, or NO_DUE without one
            return (row[SORT_ONLY[keys[0][0]]] or NO_DUE, row[keys[1][0]])
        return (row[keys[0][0]], row[keys[1][0]])

    has_next = (more and not backwards) or (backwards and cursor is not None)
    has_previous = (more and backwards) or (not backwards and cursor is not None)
    return Page(
        rows=rows,
        next_cursor=_encode(key_of(rows[-1]), ordering, False) if rows and has_next else None,
        previous_cursor=_encode(key_of(rows[0]), ordering, True) if rows and has_previous else None,
    )
