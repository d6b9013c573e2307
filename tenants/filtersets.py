"""The customer list's filters (``serviflow.filters``): ``state`` (active by default, archived,
all) and ``search`` (part of the name or slug)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from serviflow.filters import FilterSet, OneOfFilter
from tenants.models import Customer

STATES = {"active": True, "archived": False, "all": None}


class CustomerFilterSet(FilterSet):
    state = OneOfFilter(choices=[(state, state) for state in STATES], method="unfiltered")
    search = django_filters.CharFilter(method="by_search", max_length=200)

    class Meta:
        model = Customer
        fields: list[str] = []

    def by_search(self, customers: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        text = value.strip()
        return customers.filter(Q(name__icontains=text) | Q(slug__icontains=text)) if text else customers

    @property
    def qs(self) -> QuerySet[Customer]:
        customers: QuerySet[Customer] = super().qs
        active = STATES[self.form.cleaned_data.get("state") or "active"]  # active ones unless asked
        if active is not None:
            customers = customers.filter(is_active=active)
        return customers.order_by("name", "pk")
