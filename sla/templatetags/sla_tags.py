"""How pages say SLA times: "due in 2 h 10 min", "overdue 25 min", business spans ("4 h"), the
state of a clock in words, and ISO instants (UTC) for ``datetime`` and ``title`` attributes.

Times themselves are rendered by the ``date`` filter, in the viewer's time zone (activated per
request from ``User.timezone``); these helpers only decide the words and the tone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django import template

register = template.Library()

MINUTES_PER_DAY = 24 * 60


def span_text(seconds: float, *, days: bool = True) -> str:
    """A length of time in words, to the minute: "2 h 10 min", "1 d 4 h", "less than 1 min".
    ``days=False`` keeps hours (business time: a 24 h target is not "1 day" of office hours)."""
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return "less than 1 min"
    whole_days, rest = divmod(minutes, MINUTES_PER_DAY) if days else (0, minutes)
    hours, mins = divmod(rest, 60)
    parts = []
    if whole_days:
        parts.append(f"{whole_days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins and not whole_days:
        parts.append(f"{mins} min")
    return " ".join(parts) or "less than 1 min"


def due_phrase(due: datetime, now: datetime) -> str:
    seconds = (due - now).total_seconds()
    return f"due in {span_text(seconds)}" if seconds >= 0 else f"overdue {span_text(seconds)}"


def as_instant(value: datetime | str | None) -> datetime | None:
    """A datetime from a stored ISO string (the clock timeline keeps strings) or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@register.filter
def iso_utc(value: datetime | str | None) -> str:
    """The instant in ISO 8601, UTC, to the second: ``2026-11-24T10:00:00Z``."""
    instant = as_instant(value)
    if instant is None:
        return ""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@register.filter
def instant(value: datetime | str | None) -> datetime | None:
    return as_instant(value)


@register.filter
def due_in(due: datetime | None, now: datetime) -> str:
    """ "due in 2 h 10 min" / "overdue 25 min" ("" without a due time)."""
    return due_phrase(due, now) if due is not None else ""


@register.filter
def business_span(minutes: float | None) -> str:
    """A target or an amount of business minutes in words, in hours and minutes."""
    if minutes is None:
        return ""
    if 0 < minutes < 1:
        return "less than 1 min"
    return span_text(float(minutes) * 60, days=False) if minutes else "0 min"


QUEUE_CLOCKS = {"first_response": "First response", "resolution": "Resolution"}


@register.filter
def queue_sla(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The SLA cell of a queue row from the index: the clock it shows (the running clock due
    first; first response runs until it is met) counting down, in its state's colour:
    ``on_track``, ``warning`` (past the policy's warning share), ``breached`` (either clock
    breached, or this one overdue), ``paused`` while the ticket waits on the customer; ``none``
    once no clock runs (``stopped`` once resolved).
    The state is the row's ``sla_state`` (``tickets.index.states.row_state``)."""
    state = row.get("sla_state") or "none"
    due = row.get("sla_due")
    clock_name = QUEUE_CLOCKS.get(row.get("sla_clock") or "", "")
    if state == "paused":
        text = "breached · paused" if row.get("sla_breached_at") else "paused"
        return {"state": state, "text": text, "due": None, "clock_name": clock_name}
    if due is None:
        if state == "none" and row.get("status") in ("resolved", "closed"):
            return {"state": "stopped", "text": "stopped", "due": None, "clock_name": clock_name}
        text = "breached" if state == "breached" else "—"
        return {"state": state, "text": text, "due": None, "clock_name": clock_name}
    text = due_phrase(due, now)
    if state == "breached" and due >= now:  # the other clock was breached
        text = f"breached · {text}"
    return {"state": state, "text": text, "due": due, "clock_name": clock_name}


@register.filter
def clock_summary(clock: Mapping[str, Any], now: datetime) -> dict[str, str]:
    """One clock of ``sla.presenters`` in words, with a tone (ok, warn, bad, muted) for its colour."""
    state, due = clock.get("state"), clock.get("due")
    breached_at = clock.get("breached_at")
    if state == "stopped":
        if breached_at is not None:
            return {"tone": "bad", "text": "breached"}
        return {"tone": "ok", "text": "met"}
    if state == "paused":
        if breached_at is not None:
            return {"tone": "bad", "text": "breached · paused"}
        return {"tone": "muted", "text": "paused"}
    if breached_at is not None or (due is not None and due < now):
        return {"tone": "bad", "text": f"breached · {due_phrase(due, now)}" if due else "breached"}
    warning_at = clock.get("warning_at")
    tone = "warn" if warning_at is not None and warning_at <= now else "ok"
    return {"tone": tone, "text": due_phrase(due, now) if due else "running"}
