"""How an audit entry reads on a page and in an export: who acted (a person by name, or the job),
what happened to which object, and each changed field as a line "label: before → after"."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from audit.filtersets import ACTIONS
from audit.models import AuditEntry

ACTION_NAMES = {value: name for name, value in ACTIONS.items()}
SHOWN_CHARACTERS = 300  # of one value on the page; the exports carry it whole
NOTHING = "—"
CSV_HEADER = (
    "id",
    "seq",
    "at_utc",
    "customer",
    "actor_email",
    "actor_name",
    "job",
    "channel",
    "action",
    "object_type",
    "object_id",
    "object",
    "changes",
    "hash",
)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: str
    after: str


def _shown(value: Any) -> str:
    if value is None or value == "None":
        return NOTHING
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


def _label(entry: AuditEntry, field: str) -> str:
    model = entry.content_type.model_class() if entry.content_type_id else None
    if model is None:
        return field
    try:
        found = model._meta.get_field(field)
    except FieldDoesNotExist:
        return field
    return str(getattr(found, "verbose_name", field)).capitalize()


def field_changes(entry: AuditEntry) -> list[FieldChange]:
    """The entry's changes, one per field, readable (an event of a sign-in is not a field)."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    lines = []
    for field, values in changes.items():
        if entry.action == AuditEntry.Action.ACCESS:
            continue
        if isinstance(values, list) and len(values) == 2:
            before, after = values
        else:  # a many-to-many change, as auditlog records it
            before, after = None, values
        lines.append(FieldChange(field, _label(entry, field), _shown(before), _shown(after)))
    return lines


def actor_text(entry: AuditEntry) -> str:
    if entry.actor_id is not None:
        name = entry.actor.name if entry.actor else ""
        return f"{name} <{entry.actor_email}>" if name else str(entry.actor_email)
    return f"ServiFlow · {entry.job}"


@dataclass(frozen=True)
class EntryView:
    entry: AuditEntry
    action: str
    actor: str
    object_type: str
    event: str  # a sign-in's event ("signed in", "token used"), else ""
    details: dict[str, Any]
    changes: list[FieldChange]


def entry_view(entry: AuditEntry) -> EntryView:
    details = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    return EntryView(
        entry=entry,
        action=ACTION_NAMES.get(entry.action, str(entry.action)),
        actor=actor_text(entry),
        object_type=f"{entry.content_type.app_label}.{entry.content_type.model}",
        event=str(details.get("event", "")),
        details={key: value for key, value in details.items() if key != "event"},
        changes=field_changes(entry),
    )


def csv_rows(entries: Iterable[AuditEntry], customer: str) -> Iterator[tuple[object, ...]]:
    for entry in entries:
        yield (
            entry.pk,
            entry.seq,
            entry.timestamp.astimezone(UTC).isoformat(),
            customer,
            entry.actor_email or "",
            entry.actor.name if entry.actor_id and entry.actor else "",
            entry.job,
            entry.channel,
            ACTION_NAMES.get(entry.action, str(entry.action)),
            f"{entry.content_type.app_label}.{entry.content_type.model}",
            entry.object_pk,
            entry.object_repr,
            json.dumps(entry.changes, ensure_ascii=False, sort_keys=True) if entry.changes else "",
            entry.hash,
        )
