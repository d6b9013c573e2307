"""The agent list's filters (``serviflow.filters``): ``licence`` (full_time, occasional),
``state`` (active by default, deactivated, all) and ``search`` (part of a name or email)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Licence, User
from serviflow.filters import FilterSet, OneOfFilter, SearchFilter, StateFilter


class AgentFilterSet(FilterSet):
    licence = OneOfFilter(choices=Licence.choices)
    state = StateFilter(states={"active": True, "deactivated": False, "all": None})
    search = SearchFilter(fields=("name", "email"))

    class Meta:
        model = User
        fields: list[str] = []

    @property
    def qs(self) -> QuerySet[User]:
        agents: QuerySet[User] = super().qs
        return agents.order_by("name", "email")
