"""The agent list's filters (``serviflow.filters``): ``licence`` (full_time, occasional),
``state`` (active by default, deactivated, all) and ``search`` (part of a name or email)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from accounts.models import Licence, User
from serviflow.filters import FilterSet, OneOfFilter, StateFilter


class AgentFilterSet(FilterSet):
    licence = OneOfFilter(choices=Licence.choices)
    state = StateFilter(states={"active": True, "deactivated": False, "all": None})
    search = django_filters.CharFilter(method="by_search", max_length=254)

    class Meta:
        model = User
        fields: list[str] = []

    def by_search(self, agents: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        text = value.strip()
        return agents.filter(Q(name__icontains=text) | Q(email__icontains=text)) if text else agents

    @property
    def qs(self) -> QuerySet[User]:
        agents: QuerySet[User] = super().qs
        return agents.order_by("name", "email")
