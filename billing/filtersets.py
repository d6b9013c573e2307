"""The day-pass consumption log's filters, for the API and the console alike
(``serviflow.filters``): ``agent`` (an id or an email), ``from`` and ``to`` (local dates,
inclusive)."""

from __future__ import annotations

from billing.models import DayPassConsumption
from serviflow.filters import DayFilter, FilterSet, IdOrNameFilter


class ConsumptionFilterSet(FilterSet):
    agent = IdOrNameFilter(id_field="agent_id", name_field="agent__email", help_text="agent id or email")
    from_ = DayFilter(field_name="local_date", lookup_expr="gte", help_text="first local date")
    to = DayFilter(field_name="local_date", lookup_expr="lte", help_text="last local date")

    class Meta:
        model = DayPassConsumption
        fields: list[str] = []


# "from" is a keyword in Python: the parameter is declared as from_ and named here, where the
# API's schema and every instance read it.
ConsumptionFilterSet.base_filters["from"] = ConsumptionFilterSet.base_filters.pop("from_")
