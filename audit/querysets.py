"""``QuerySet.update`` on an audited model writes audit entries too.

Django's ``update()`` is one SQL UPDATE and sends no signals, so auditlog sees nothing. Every
audited model's manager is built on ``AuditedQuerySet`` (a test holds each model in
``audit.registry.AUDITED_MODELS`` to it): an update that touches an audited field locks the rows
it matches, updates exactly those, and writes one entry per row whose fields changed, under the
person or job acting (none acting is an error, as for any other audited write). An update of
bookkeeping fields only (those the registry leaves out of the diff) stays one plain UPDATE.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

from audit.bulk import update_entries
from audit.context import current_actor
from audit.models import AuditEntry
from audit.registry import AUDITED_MODELS

_M = TypeVar("_M", bound=models.Model)


def unaudited_fields(model: type[models.Model]) -> frozenset[str]:
    return frozenset(AUDITED_MODELS.get(model._meta.label, ()))


class AuditedQuerySet(models.QuerySet[_M]):
    def update(self, **values: Any) -> int:
        fields = [name for name in values if name not in unaudited_fields(self.model)]
        if not fields:
            return super().update(**values)
        if current_actor() is None:
            raise RuntimeError(
                f"an update of {self.model._meta.label} is audited under a person or a named job"
            )
        with transaction.atomic(using=self.db, savepoint=False):
            before = {row.pk: row for row in self.select_for_update(of=("self",)).order_by("pk")}
            if not before:
                return 0
            count = models.QuerySet.update(self.filter(pk__in=before), **values)
            after = self.model._base_manager.using(self.db).in_bulk(list(before))
            entries = update_entries(((row, after[pk]) for pk, row in before.items() if pk in after), fields)
            AuditEntry.objects.using(self.db).bulk_create(entries)
        return count
