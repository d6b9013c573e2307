"""Audit entries for rows created or changed in bulk.

``QuerySet.bulk_create`` and ``bulk_update`` send no signals, so auditlog writes nothing for
them. Code that changes many rows at once (the SLA sweep) keeps the copies from before its
change and records here the same entries auditlog would have written for
``save(update_fields=...)`` on each row: the diff of those fields, the object's representation
and the acting person or job. Imports that insert many rows at once record the create entries
the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from auditlog.cid import get_cid
from auditlog.diff import model_instance_diff
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils.encoding import smart_str

from audit.context import actor_fill, current_actor
from audit.models import AuditEntry


def update_entries(changes: Iterable[tuple[Model, Model]], fields: Sequence[str]) -> list[AuditEntry]:
    """One update entry per ``(before, after)`` pair whose ``fields`` differ, stamped with who
    is acting (an audit context is required); the caller inserts them where the rows live."""
    return _entries(AuditEntry.Action.UPDATE, ((before, after) for before, after in changes), fields)


def create_entries(created: Iterable[Model]) -> list[AuditEntry]:
    """One create entry per row inserted with ``bulk_create`` (which sends no signals): what
    auditlog writes for ``save()`` of a new row. The caller inserts them where the rows live."""
    return _entries(AuditEntry.Action.CREATE, ((None, row) for row in created), None)


def _entries(
    action: int, pairs: Iterable[tuple[Model | None, Model]], fields: Sequence[str] | None
) -> list[AuditEntry]:
    if current_actor() is None:
        raise RuntimeError("bulk changes are audited under a person or a named job")
    cid = get_cid()
    entries: list[AuditEntry] = []
    for before, after in pairs:
        diff = model_instance_diff(
            before,
            after,
            fields_to_check=list(fields) if fields is not None else None,
            use_json_for_changes=getattr(settings, "AUDITLOG_STORE_JSON_CHANGES", False),
        )
        if not diff:
            continue
        entry = AuditEntry(
            content_type=_content_type(type(after)),
            object_pk=str(after.pk),
            object_id=after.pk if isinstance(after.pk, int) else None,
            object_repr=smart_str(after),
            action=action,
            changes=diff,
            cid=cid,
        )
        actor_fill(entry)
        entries.append(entry)
    return entries


_CONTENT_TYPES: dict[type[Model], ContentType] = {}


def _content_type(model: type[Model]) -> ContentType:
    """Content types live in the public schema only (contenttypes is not a tenant app), so one
    lookup per model serves every customer; django-tenants empties Django's own cache on each
    schema switch, which would cost a query per customer."""
    if model not in _CONTENT_TYPES:
        _CONTENT_TYPES[model] = ContentType.objects.get_for_model(model)
    return _CONTENT_TYPES[model]


def change_entry(obj: Model, changes: dict[str, list[str | None]]) -> AuditEntry:
    """An update entry of ``obj`` with the ``changes`` given (field -> [before, after], as
    strings), stamped with who is acting: for a model auditlog does not watch because reading
    its rows back on every save would cost too much (a stored mail's raw bytes)."""
    if current_actor() is None:
        raise RuntimeError("changes are audited under a person or a named job")
    entry = AuditEntry(
        content_type=_content_type(type(obj)),
        object_pk=str(obj.pk),
        object_id=obj.pk if isinstance(obj.pk, int) else None,
        object_repr=smart_str(obj),
        action=AuditEntry.Action.UPDATE,
        changes=changes,
        cid=get_cid(),
    )
    actor_fill(entry)
    return entry
