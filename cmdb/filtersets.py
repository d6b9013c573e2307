"""The CI list's filters, for the API, the console and the portal alike (``serviflow.filters``):
type, status, parent (an id, or ``none`` for top-level CIs), owner (a user's id or email),
search (part of the name) and ordering."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from cmdb.models import CiStatus, CiType, ConfigurationItem
from people.selectors import profile_from
from serviflow.filters import FilterSet, IdOrWordFilter, ListFilter, LookupFilter

CI_ORDERINGS = ("name", "created_at", "updated_at", "type")


class ParentFilter(IdOrWordFilter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(words=("none",), what="a CI id", **kwargs)

    def filter(self, qs: QuerySet[Any], value: int | str | None) -> QuerySet[Any]:
        if value is None:
            return qs
        return qs.filter(parent__isnull=True) if value == "none" else qs.filter(parent_id=value)


class CiFilterSet(FilterSet):
    type = ListFilter(allowed=CiType.values, help_text="Comma-separated types")
    status = ListFilter(allowed=CiStatus.values, help_text="Comma-separated statuses")
    parent = ParentFilter(help_text="A CI id, or 'none' for top-level CIs")
    owner = LookupFilter(
        field_name="owner",
        lookup=lambda filters, text: profile_from(text, field="owner"),
        help_text="A user of this customer: id or email",
    )
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=100, help_text="Part of the name"
    )
    ordering = django_filters.OrderingFilter(fields=CI_ORDERINGS, help_text="Default name")
    default_ordering = "name"

    class Meta:
        model = ConfigurationItem
        fields: list[str] = []
