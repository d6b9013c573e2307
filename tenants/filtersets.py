"""The customer list's filters (``serviflow.filters``): ``state`` (active by default, archived,
all) and ``search`` (part of the name or slug)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from serviflow.filters import FilterSet, StateFilter
from tenants.models import Customer


class CustomerFilterSet(FilterSet):
    state = StateFilter(states={"active": True, "archived": False, "all": None})
    search = django_filters.CharFilter(method="by_search", max_length=200)
    default_ordering = "name"

    class Meta:
        model = Customer
        fields: list[str] = []

    def by_search(self, customers: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        text = value.strip()
        return customers.filter(Q(name__icontains=text) | Q(slug__icontains=text)) if text else customers
