"""The audit trail's filters, for the API and the pages (``serviflow.filters``): ``actor`` (a
person's id or email), ``action`` (create, update, delete, access), ``channel``, the object
(``object_type``, as ``app.model``, and ``object_id``), ``from`` and ``to`` (UTC dates,
inclusive). Which chain is read (``customer``) is the view's choice, not a filter of rows."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from audit.models import AuditEntry, Channel
from audit.registry import AUDITED_MODELS
from serviflow.filters import DayFilter, FilterSet, IdOrNameFilter

ACTIONS = {
    "create": AuditEntry.Action.CREATE,
    "update": AuditEntry.Action.UPDATE,
    "delete": AuditEntry.Action.DELETE,
    "access": AuditEntry.Action.ACCESS,
}
# What an entry can be about: every audited model, as ``app_label.model`` (the API's object_type).
OBJECT_TYPES = sorted(label.lower() for label in AUDITED_MODELS)


class AuditFilterSet(FilterSet):
    actor = IdOrNameFilter(id_field="actor_id", name_field="actor_email", help_text="person id or email")
    action = django_filters.ChoiceFilter(choices=[(name, name) for name in ACTIONS], method="by_action")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    object_type = django_filters.ChoiceFilter(
        choices=[(name, name) for name in OBJECT_TYPES], method="by_object_type", help_text="app.model"
    )
    object_id = django_filters.CharFilter(field_name="object_pk", max_length=255)
    from_ = DayFilter(field_name="timestamp", lookup_expr="date__gte", help_text="first day (UTC)")
    to = DayFilter(field_name="timestamp", lookup_expr="date__lte", help_text="last day (UTC)")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def by_action(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(action=ACTIONS[value])

    def by_object_type(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        app_label, model = value.split(".")
        return qs.filter(content_type__app_label=app_label, content_type__model=model)


class ChainFilterSet(AuditFilterSet):
    """The provider's list: any chain it may read."""

    customer = django_filters.CharFilter(
        method="unfiltered",
        help_text="a customer's slug: that customer's own entries (without it: the provider's)",
    )


# "from" is a keyword in Python (as in billing.filtersets).
for _filterset in (AuditFilterSet, ChainFilterSet):
    _filterset.base_filters["from"] = _filterset.base_filters.pop("from_")
