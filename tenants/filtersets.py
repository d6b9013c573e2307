"""The customer list's filters (``serviflow.filters``): ``state`` (active by default, archived,
all) and ``search`` (part of the name or slug)."""

from __future__ import annotations

from serviflow.filters import FilterSet, SearchFilter, StateFilter
from tenants.models import Customer


class CustomerFilterSet(FilterSet):
    state = StateFilter(states={"active": True, "archived": False, "all": None})
    search = SearchFilter(fields=("name", "slug"), max_length=200)
    default_ordering = "name"

    class Meta:
        model = Customer
        fields: list[str] = []
