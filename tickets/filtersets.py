"""The tickets' list filters, for the API and the console alike (``serviflow.filters``).

``TicketFilterSet``: a customer's tickets (``GET /api/v1/customers/{slug}/tickets/``).
``QueueFilterSet``: the unified queue over the public index (``GET /api/v1/tickets/`` and the
console's queue and customer pages); its ``ordering`` and ``cursor`` drive the keyset paging
(``tickets.index.queue``) and are only validated here.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from cmdb.selectors import ci_from
from people.selectors import profile_from
from serviflow.filters import (
    FilterSet,
    FlagFilter,
    IdOrWordFilter,
    IntegerFilter,
    ListFilter,
    LookupFilter,
    OneOfFilter,
)
from tenants.validators import SLUG_PATTERN
from tickets.index.models import TicketIndexEntry
from tickets.index.queue import DEFAULT_ORDERING, MAX_CURSOR, ORDERINGS
from tickets.models import Priority, Status, Ticket

TICKET_ORDERINGS = ("created_at", "updated_at", "priority")
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class AssigneeFilter(IdOrWordFilter):
    """``me``, ``none`` (unassigned) or an agent's id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(words=("me", "none"), what="an agent's id", **kwargs)

    def filter(self, qs: QuerySet[Any], value: int | str | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(assignee__isnull=True)
        user = self.parent.user  # type: ignore[attr-defined]
        return qs.filter(assignee_id=user.pk if value == "me" else value)


class TicketFilterSet(FilterSet):
    status = ListFilter(allowed=Status.values, help_text="Comma-separated: open,pending,resolved,closed")
    priority = ListFilter(allowed=Priority.values, help_text="Comma-separated: P1,P2,P3,P4")
    assignee = AssigneeFilter(help_text="An agent's id, 'me' or 'none'")
    requester = LookupFilter(
        field_name="requester",
        lookup=lambda filters, text: profile_from(text, field="requester"),
        help_text="A user of this customer: id or email",
    )
    ci = LookupFilter(
        field_name="ci",
        lookup=lambda filters, text: ci_from(filters.access, text),
        help_text="A CI of this customer: id or name (403 when your access leaves out the CMDB)",
    )
    ordering = django_filters.OrderingFilter(fields=TICKET_ORDERINGS, help_text="Default -created_at")
    default_ordering = "-created_at"

    class Meta:
        model = Ticket
        fields: list[str] = []


class QueueFilterSet(FilterSet):
    status = ListFilter(allowed=Status.values, help_text="Comma-separated statuses, e.g. open,pending")
    priority = ListFilter(allowed=Priority.values, help_text="Comma-separated priorities")
    customer = ListFilter(
        field_name="customer__slug",
        pattern=SLUG_PATTERN.pattern,
        max_length=2000,
        help_text="Comma-separated slugs",
    )
    assignee = AssigneeFilter(help_text="'me', 'none' or an agent's id")
    ordering = OneOfFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="unfiltered",
        help_text=f"One of {', '.join(ORDERINGS)} (default {DEFAULT_ORDERING}); the paging follows it",
    )

    cursor = django_filters.CharFilter(
        max_length=MAX_CURSOR, method="unfiltered", help_text="From a previous page's next/previous link"
    )
    page_size = IntegerFilter(
        minimum=1,
        maximum=MAX_PAGE_SIZE,
        method="unfiltered",
        help_text=f"1-{MAX_PAGE_SIZE}, default {PAGE_SIZE}",
    )
    count = FlagFilter(method="unfiltered", help_text="Also count every matching ticket (costly)")

    class Meta:
        model = TicketIndexEntry
        fields: list[str] = []

    def paging(self) -> tuple[str, str | None, int, bool]:
        """Ordering, cursor, page size and whether to count, as validated."""
        data = self.form.cleaned_data
        return (
            str(data.get("ordering") or DEFAULT_ORDERING),
            data.get("cursor") or None,
            int(data.get("page_size") or PAGE_SIZE),
            bool(data.get("count")),
        )
