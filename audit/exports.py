"""Exports on the record (issue 17): a file of data taken out of ServiFlow (the audit trail, the
access review, the day-pass log, as CSV or JSON) is an entry of its own, action ``access``, by
the person exporting, naming what was exported, in which format and with which filters. It is
written where the request runs (the provider's chain for the console, the customer's for its
portal), before the file is sent."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.http import QueryDict

from audit.models import AuditEntry

EXPORTED = "exported"
KEPT_FILTER = 200  # characters of one filter's value kept in the entry


def record_export(
    what: str, *, of: type[Model], file_format: str, params: QueryDict, names: Iterable[str]
) -> None:
    """One entry for an export of ``what`` (rows of the model ``of``), under whoever is acting,
    with the filters ``names`` of the query string ``params``. The caller has checked them
    (through its filter set or form) before anything is exported or recorded."""
    kept = {name: params[name][:KEPT_FILTER] for name in names if params.get(name)}
    AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(of),
        object_pk="",
        object_repr=what,
        action=AuditEntry.Action.ACCESS,
        changes={"event": [None, EXPORTED]},
        additional_data={"event": EXPORTED, "export": what, "format": file_format, "filters": kept},
    )
