"""The SLA state of a queue row, read from its index columns and the current instant.

A row shows one clock (``sla_clock``: the running clock due first) and is
``breached`` once either clock recorded a breach or the shown clock runs past its due time,
``paused`` while the ticket waits on the customer, ``warning`` once the shown clock passed its
warning instant, else ``on_track`` (``none`` when no clock runs and nothing was breached). The
same rules as SQL conditions filter the queue (``sla_condition``), and ``next_change`` is the
instant a shown row changes state by the clock alone (the live queue's ETag expires then).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import Q

ON_TRACK, WARNING, BREACHED, PAUSED, NONE = "on_track", "warning", "breached", "paused", "none"
# The words of ``?sla=``: the states an agent filters by ("at risk" is the warning state).
SLA_FILTERS = ("on_track", "at_risk", "breached", "paused")


def row_state(row: Mapping[str, Any], now: datetime) -> str:
    due, warn_at = row.get("sla_due"), row.get("sla_warn_at")
    paused = bool(row.get("sla_paused"))
    if row.get("sla_breached_at") is not None or (not paused and due is not None and due <= now):
        return BREACHED
    if paused:
        return PAUSED
    if not row.get("sla_clock"):
        return NONE
    if warn_at is not None and warn_at <= now:
        return WARNING
    return ON_TRACK


def _breached(now: datetime) -> Q:
    return Q(sla_breached_at__isnull=False) | Q(sla_paused=False, sla_due__lte=now)


def sla_condition(words: Iterable[str], now: datetime) -> Q:
    """Rows in any of the states named (``SLA_FILTERS``) at ``now``."""
    breached = _breached(now)
    conditions = {
        "breached": breached,
        "at_risk": ~breached & Q(sla_paused=False, sla_warn_at__lte=now),
        "paused": ~breached & Q(sla_paused=True),
        "on_track": ~breached
        & Q(sla_paused=False)
        & ~Q(sla_clock="")
        & (Q(sla_warn_at__isnull=True) | Q(sla_warn_at__gt=now)),
    }
    wanted = Q(pk__in=[])
    for word in words:
        wanted |= conditions[word]
    return wanted


def next_change(rows: Iterable[Mapping[str, Any]], now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which one of ``rows`` turns amber or red."""
    instants = [
        at
        for row in rows
        if not row.get("sla_paused") and row.get("sla_breached_at") is None
        for at in (row.get("sla_warn_at"), row.get("sla_due"))
        if at is not None and at > now
    ]
    return min(instants, default=None)
