"""What a live ticket page tells the person looking at it: the changes other people (and jobs)
made since the page was shown, in sentences ("Ana replied", "Status changed to pending by Ana"),
and, when a save from the side panel comes too late, who changed which of its fields; and the
ticket's whole history in sentences, for the console's and the portal's ticket pages.

Both read the ticket's history as ``access`` may (``tickets.selectors.history_for``): a
customer never hears of a private note or of a field only agents see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, CharField, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEntry, Channel
from cmdb.models import ConfigurationItem
from contracts.time import entries_of_ticket
from core.parsers import is_id, zone_or_utc
from sla.models import SlaPolicy
from tenants.access import CustomerAccess
from tickets.index.services import display_number
from tickets.models import Attachment, Comment, Ticket
from tickets.selectors import actor_shown, attachments_visible, changes_shown, history_for, sees_private

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


def _ids(entries: Iterable[AuditEntry], fields: Iterable[str], *, both: bool = False) -> set[int]:
    """The ids the entries' changes of ``fields`` name (the new values; ``both``: the old too)."""
    ids = set()
    for entry in entries:
        for field in fields:
            values = entry.changes_dict.get(field) or [None, None]
            for value in values if both else values[1:]:
                if isinstance(value, str) and is_id(value):
                    ids.add(int(value))
    return ids


def _names(
    entries: list[AuditEntry], fields: Iterable[str] = ("assignee",), *, both: bool = False
) -> dict[str, str]:
    """The names of the people that the entries' changes of ``fields`` name (one query)."""
    ids = _ids(entries, fields, both=both)
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


# --- the ticket page's history, in sentences ------------------------------------------------------


@dataclass(frozen=True)
class HistoryLine:
    """One entry of a ticket's history as a person reads it: "Ada (web) changed priority P3 → P1"."""

    at: datetime
    actor: str
    channel: str
    sentence: str
    email: str = ""  # the actor's, when the reader may know it (``actor_shown``)


# What the history's sentences leave out: bookkeeping that follows from a change already told
# (a reply records the first response, a status its instant, a re-resolved SLA its snapshot).
UNTOLD = frozenset(
    {
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "updated_at",
        "last_public_from",
        "requester_user",
        "sla_generation",
        "sla_segments",
        "sla_snapshot",
        "sla_source",
        "sla_applied",
        "sla_recorded",
        "first_response_breached_at",
        "resolution_breached_at",
        "first_response_due",
        "resolution_due",
        "sla_reason",
    }
)
# The changes after which the hierarchy chooses the ticket's SLA afresh.
RE_RESOLVING = frozenset({"priority", "requester", "ci", "sla_policy"})
SLA_CLOCKS = {"first_response": "first response", "resolution": "resolution"}


@dataclass(frozen=True)
class _Lookups:
    """What the sentences name, read once for the whole history: people, CIs, SLA policies."""

    people: dict[str, str]
    cis: dict[str, str]
    policies: dict[str, str]
    tickets: dict[str, str]  # the tickets merged into, by id: their references
    zone: ZoneInfo
    now: datetime


def history_sentences(
    access: CustomerAccess, ticket: Ticket, *, now: datetime | None = None
) -> list[HistoryLine]:
    """The ticket's history as ``access`` may read it (``history_for``, ``changes_shown``), one
    sentence per entry, oldest first, with the files attached to what the reader may see. A
    fixed number of queries whatever the history's length. Due times are told in the customer's
    time zone."""
    entries = sorted(
        [*history_for(access, ticket), *_attachment_entries(access, ticket)],
        key=lambda entry: (entry.timestamp, entry.id),
    )
    ticket_type = ContentType.objects.get_for_model(Ticket)
    comment_type = ContentType.objects.get_for_model(Comment)
    ticket_entries = [entry for entry in entries if entry.content_type_id == ticket_type.pk]
    cis = _ids(ticket_entries, ("ci",)) if access.sees_cmdb else set()
    policies = _ids(ticket_entries, ("sla_policy",)) if sees_private(access) else set()
    merged = _ids(ticket_entries, ("merged_into",), both=True)
    lookups = _Lookups(
        people=_names(ticket_entries, ("assignee", "requester_user"), both=True),
        cis={
            str(pk): name
            for pk, name in ConfigurationItem.objects.filter(pk__in=cis).values_list("pk", "name")
        },
        policies={
            str(pk): name for pk, name in SlaPolicy.objects.filter(pk__in=policies).values_list("pk", "name")
        },
        tickets={
            str(pk): display_number(access.customer, number)
            for pk, number in Ticket.objects.filter(pk__in=merged).values_list("pk", "number")
        },
        zone=zone_or_utc(access.customer.timezone),
        now=now or timezone.now(),
    )
    lines = []
    for entry in entries:
        if entry.content_type_id == ticket_type.pk:
            sentence = _ticket_sentence(entry, changes_shown(access, entry.changes_dict), lookups)
        elif entry.content_type_id == comment_type.pk:
            sentence = _comment_sentence(entry)
        else:
            sentence = f"attached {getattr(entry, 'filename', None) or 'a file'}"
        if sentence:
            shown = actor_shown(entry, access.user) or {}
            lines.append(
                HistoryLine(
                    at=entry.timestamp,
                    actor=_by(entry, access.user),
                    channel=_channel(entry),
                    sentence=sentence,
                    email=shown.get("email") or "",
                )
            )
    return lines


def _attachment_entries(access: CustomerAccess, ticket: Ticket) -> list[AuditEntry]:
    """The audit entries of the files attached to what ``access`` may see (one query), each
    with the file's name as ``filename``."""
    visible = attachments_visible(access, ticket)
    keys = visible.annotate(key=Cast("pk", CharField())).values("key")
    names = Attachment.objects.filter(pk=Cast(OuterRef("object_pk"), BigIntegerField())).values("filename")
    return list(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Attachment),
            object_pk__in=keys,
            action=AuditEntry.Action.CREATE,
        )
        .select_related("content_type", "actor")
        .annotate(filename=Subquery(names[:1]))
    )


def _channel(entry: AuditEntry) -> str:
    """Where the change came from: a job, the API, the console, or a customer's portal (the only
    web page a customer's user who does not work tickets can sign in to)."""
    actor: User | None = entry.actor
    if entry.channel == Channel.WEB and actor is not None and not actor.may_use_console:
        return "portal"
    return str(entry.channel)


def _comment_sentence(entry: AuditEntry) -> str:
    if entry.action != AuditEntry.Action.CREATE:
        return "edited a message"
    public = (entry.changes_dict.get("public") or [None, "True"])[1]
    return "added a private note" if public == "False" else "replied"


def _ticket_sentence(entry: AuditEntry, shown: dict[str, Any], lookups: _Lookups) -> str:
    if entry.action == AuditEntry.Action.CREATE:
        return "created the ticket"
    clauses = [clause for field in shown if (clause := _field_clause(field, shown, lookups))]
    if sla := _sla_clause(shown, lookups):
        clauses.append(sla)
    clauses += _sla_records(shown)
    return "; ".join(clauses)


def _field_clause(field: str, shown: dict[str, Any], lookups: _Lookups) -> str:
    old, new = (_blank(value) for value in shown[field])
    if field in UNTOLD:
        return ""
    if field in ("status", "priority"):
        return f"changed {field} {old or 'none'} → {new or 'none'}"
    if field == "assignee":
        if new is None:
            return f"unassigned the ticket (was {_value(field, old, lookups.people)})"
        return f"assigned the ticket to {_value(field, new, lookups.people)}"
    if field == "requester":
        who = (shown.get("requester_user") or [None, None])[1]
        return f"changed the requester to {lookups.people.get(str(who), 'another person')}"
    if field == "ci":
        return f"linked the CI {lookups.cis.get(new, 'another CI')}" if new else "unlinked the CI"
    if field == "sla_policy":
        if new is None:
            return "removed the SLA override"
        return f"set the SLA override to {lookups.policies.get(new, 'another policy')}"
    if field == "subject":
        return f"changed the subject to “{new or ''}”"
    if field == "merged_into":
        if new is None:
            return f"undid the merge into {lookups.tickets.get(str(old), 'another ticket')}"
        return f"merged this ticket into {lookups.tickets.get(str(new), 'another ticket')}"
    label = OTHER_FIELDS.get(field) or PANEL_FIELDS.get(field) or field.replace("_", " ")
    return f"changed the {label.lower()}"


def _sla_clause(shown: dict[str, Any], lookups: _Lookups) -> str:
    """The due times a change moved: "SLA re-resolved: resolution due Mon 13:00 → 11:00" (or
    "SLA clocks: ..." when a status change paused or restarted them)."""
    paused = (shown.get("status") or [None, None])[1] == "pending"
    moves = []
    for clock, label in SLA_CLOCKS.items():
        if f"{clock}_due" in shown:
            old, new = (_instant(value) for value in shown[f"{clock}_due"])
            later = "paused" if new is None and paused else _when(new, lookups, after=old)
            moves.append(f"{label} due {_when(old, lookups)} → {later}")
    reason = (shown.get("sla_reason") or [None, None])[1]
    re_resolved = reason or RE_RESOLVING & shown.keys()
    if not moves:
        return f"SLA re-resolved ({reason})" if reason else ""
    return f"{'SLA re-resolved' if re_resolved else 'SLA clocks'}: {', '.join(moves)}"


def _sla_records(shown: dict[str, Any]) -> list[str]:
    """The warnings and breaches a job recorded: "recorded the resolution breach"."""
    told: list[str] = []
    for clock, label in SLA_CLOCKS.items():
        breached = _blank((shown.get(f"{clock}_breached_at") or [None, None])[1])
        if breached is not None:
            told.append(f"recorded the {label} breach")
    if "sla_recorded" in shown:
        old, new = (_json_keys(value) for value in shown["sla_recorded"])
        for key in sorted(new - old):
            clock, _, kind = key.partition(":")
            sentence = f"recorded the {SLA_CLOCKS.get(clock, clock)} {kind}"
            if kind in ("warning", "breach") and sentence not in told:
                told.append(sentence)
    return told


def _blank(value: Any) -> Any:
    return None if value in (None, "None", "") else value


def _json_keys(value: Any) -> set[str]:
    try:
        loaded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return set()
    return set(loaded) if isinstance(loaded, dict) else set()


def _instant(value: Any) -> datetime | None:
    """An instant as history records it: UTC, written without its zone."""
    if _blank(value) is None:
        return None
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _when(instant: datetime | None, lookups: _Lookups, *, after: datetime | None = None) -> str:
    """An instant in the customer's zone, briefly: "Mon 13:00" this week, else "Mon 8 Dec 13:00"
    (with the year when not this year); only "11:00" on the same day as ``after``."""
    if instant is None:
        return "none"
    local, today = instant.astimezone(lookups.zone), lookups.now.astimezone(lookups.zone)
    if after is not None and after.astimezone(lookups.zone).date() == local.date():
        return local.strftime("%H:%M")
    if local.isocalendar()[:2] == today.isocalendar()[:2]:
        return local.strftime("%a %H:%M")
    year = f" {local.year}" if local.year != today.year else ""
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M}"


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


def minutes_text(minutes: int) -> str:
    """``95`` → ``1 h 35 min``; negative for a reversal."""
    sign, left = ("-" if minutes < 0 else ""), abs(minutes)
    hours, rest = divmod(left, 60)
    if not hours:
        return f"{sign}{rest} min"
    return f"{sign}{hours} h {rest:02d} min" if rest else f"{sign}{hours} h"


def time_card(access: CustomerAccess, ticket: Ticket) -> dict[str, Any] | None:
    """The ticket's time (agents only): its entries, oldest first, which were reversed, and the
    totals; what a new entry defaults to (today in the reader's zone)."""
    if not access.works_tickets:
        return None
    entries = list(entries_of_ticket(access.customer, ticket.pk))
    reversed_ids = {entry.reverses_id for entry in entries if entry.reverses_id is not None}
    total = sum(entry.minutes for entry in entries)
    billable = sum(entry.minutes for entry in entries if entry.billable)
    return {
        "entries": [
            {
                "entry": entry,
                "text": minutes_text(entry.minutes),
                "reversed": entry.pk in reversed_ids,
                "can_reverse": entry.reverses_id is None and entry.pk not in reversed_ids,
            }
            for entry in entries
        ],
        "total": total,
        "total_text": minutes_text(total),
        "billable_text": minutes_text(billable),
        "today": timezone.now().astimezone(zone_or_utc(access.user.timezone)).date(),
    }
