"""What a live ticket page tells the person looking at it: the changes other people (and jobs)
made since the page was shown, in sentences ("Ana replied", "Status changed to pending by Ana"),
and, when a save from the side panel comes too late, who changed which of its fields.

Both read the ticket's history as ``access`` may (``tickets.selectors.history_for``): a
customer never hears of a private note or of a field only agents see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType

from accounts.models import User
from audit.models import AuditEntry
from core.parsers import is_id
from tenants.access import CustomerAccess
from tickets.models import Ticket
from tickets.selectors import actor_shown, changes_shown, history_for

# The side panel's fields, by the name history records them under, and how a person reads them.
PANEL_FIELDS = {
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "ci": "Configuration item",
}
OTHER_FIELDS = {
    "subject": "Subject",
    "description": "Description",
    "requester": "Requester",
    "sla_policy": "SLA override",
}
SLA_NEWS = {
    "first_response_breached_at": "The first response target was breached",
    "resolution_breached_at": "The resolution target was breached",
    "sla_recorded": "An SLA warning was recorded",
}


@dataclass(frozen=True)
class Change:
    """One field of the ticket changed by someone: what it is now, who, when."""

    field: str
    label: str
    value: str
    by: str
    at: datetime
    mine: bool


def _by(entry: AuditEntry, reader: User) -> str:
    actor = actor_shown(entry, reader)
    if actor is None:
        return entry.job or "a job"
    return str(actor["name"] or actor["email"] or "someone")


def _value(field: str, value: Any, names: dict[str, str]) -> str:
    if value in (None, "None", ""):
        return "none" if field != "assignee" else "nobody"
    if field == "assignee":
        return names.get(str(value), "another agent")
    return str(value)


def _names(entries: list[AuditEntry]) -> dict[str, str]:
    """The names of the agents that the entries' assignee changes name (one query)."""
    ids = set()
    for entry in entries:
        new = (entry.changes_dict.get("assignee") or [None, None])[1]
        if isinstance(new, str) and is_id(new):
            ids.add(int(new))
    return {str(pk): name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", "name")}


def _after(access: CustomerAccess, ticket: Ticket, seen: int) -> list[AuditEntry]:
    return list(history_for(access, ticket).filter(id__gt=seen))


def field_changes(access: CustomerAccess, ticket: Ticket, seen: int) -> list[Change]:
    """The side panel's fields changed after history entry ``seen``, latest change of each
    field only, as ``access`` may read them."""
    ticket_type = ContentType.objects.get_for_model(Ticket)
    entries = [e for e in _after(access, ticket, seen) if e.content_type_id == ticket_type.pk]
    names = _names(entries)
    latest: dict[str, Change] = {}
    for entry in entries:
        for field, values in changes_shown(access, entry.changes_dict).items():
            if field in PANEL_FIELDS:
                latest[field] = Change(
                    field=field,
                    label=PANEL_FIELDS[field],
                    value=_value(field, values[1], names),
                    by=_by(entry, access.user),
                    at=entry.timestamp,
                    mine=entry.actor_id == access.user.pk,
                )
    return [latest[field] for field in PANEL_FIELDS if field in latest]


def news(access: CustomerAccess, ticket: Ticket, seen: int) -> list[str]:
    """What others did to the ticket after history entry ``seen``, one sentence each, oldest
    first (the reader's own changes are not news to them)."""
    entries = [e for e in _after(access, ticket, seen) if e.actor_id != access.user.pk]
    names = _names(entries)
    ticket_type = ContentType.objects.get_for_model(Ticket)
    sentences: list[str] = []
    for entry in entries:
        by = _by(entry, access.user)
        if entry.content_type_id != ticket_type.pk:
            if entry.action == AuditEntry.Action.CREATE:
                public = (entry.changes_dict.get("public") or [None, "True"])[1]
                sentences.append(f"{by} added a private note" if public == "False" else f"{by} replied")
            continue
        shown = changes_shown(access, entry.changes_dict)
        if entry.action == AuditEntry.Action.CREATE:
            continue
        said = False
        for field, label in PANEL_FIELDS.items():
            if field in shown:
                value = _value(field, shown[field][1], names)
                sentences.append(f"{label} changed to {value} by {by}")
                said = True
        for field, sentence in SLA_NEWS.items():
            if field in shown and shown[field][1] not in (None, "None", ""):
                sentences.append(sentence)
                said = True
                break
        if not said and (other := [label for field, label in OTHER_FIELDS.items() if field in shown]):
            sentences.append(f"{', '.join(other)} changed by {by}")
    return sentences


# A running clock's words ("due in 3 h") change with the clock itself: a live page showing one
# renders afresh at least this often, and at the instant a clock turns amber or red.
RUNNING_REFRESH = timedelta(minutes=1)


def refresh_at(clocks: Iterable[Mapping[str, Any]], now: datetime) -> datetime | None:
    """When what a page shows of ``clocks`` (``sla.presenters``' clocks) changes by itself: the
    next warning or due instant of a running clock, within ``RUNNING_REFRESH``; None when no
    clock runs."""
    running = [clock for clock in clocks if clock.get("state") == "running"]
    if not running:
        return None
    instants = [now + RUNNING_REFRESH]
    for clock in running:
        for name in ("warning_at", "due"):
            instant = clock.get(name)
            if isinstance(instant, datetime) and instant > now:
                instants.append(instant)
    return min(instants)
