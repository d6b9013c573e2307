"""The audit trail's filters, for the API (``serviflow.filters``): ``actor`` (a person's id or
email), ``action`` (create, update, delete, access), ``from`` and ``to`` (UTC dates, inclusive).
Which chain is read (``customer``) is the view's choice, not a filter of rows."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from audit.models import AuditEntry
from serviflow.filters import DayFilter, FilterSet, IdOrNameFilter

ACTIONS = {
    "create": AuditEntry.Action.CREATE,
    "update": AuditEntry.Action.UPDATE,
    "delete": AuditEntry.Action.DELETE,
    "access": AuditEntry.Action.ACCESS,
}


class AuditFilterSet(FilterSet):
    customer = django_filters.CharFilter(
        method="unfiltered",
        help_text="a customer's slug: that customer's own entries (without it: the provider's)",
    )
    actor = IdOrNameFilter(id_field="actor_id", name_field="actor_email", help_text="person id or email")
    action = django_filters.ChoiceFilter(choices=[(name, name) for name in ACTIONS], method="by_action")
    from_ = DayFilter(field_name="timestamp", lookup_expr="date__gte", help_text="first day (UTC)")
    to = DayFilter(field_name="timestamp", lookup_expr="date__lte", help_text="last day (UTC)")

    class Meta:
        model = AuditEntry
        fields: list[str] = []

    def by_action(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(action=ACTIONS[value])


# "from" is a keyword in Python (as in billing.filtersets).
AuditFilterSet.base_filters["from"] = AuditFilterSet.base_filters.pop("from_")
