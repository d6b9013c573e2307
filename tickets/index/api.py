"""API: the unified queue, ``GET /api/v1/tickets/``, read from the public index only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from serviflow.api.views import AuditedMixin
from serviflow.filters import FilterBackend, refusal
from serviflow.http import ApiRequest
from tenants.access import Reach
from tickets.filtersets import QueueFilterSet
from tickets.index.models import TicketIndexEntry
from tickets.index.queue import queue_entries, queue_page
from tickets.models import Priority, Status


class QueueSlaSerializer(serializers.Serializer[Any]):
    first_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)


class QueueItemSerializer(serializers.Serializer[Any]):
    """The shape of a queue item (for the schema); ``queue_item`` builds them from plain rows."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    customer = serializers.CharField()
    customer_name = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    assignee = serializers.IntegerField(allow_null=True)
    assignee_name = serializers.CharField(allow_null=True)
    requester_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    sla = QueueSlaSerializer()
    url = serializers.CharField()


class QueuePageSerializer(serializers.Serializer[Any]):
    """A page of the queue: cursor links, and ``count`` only when asked for (``?count=true``)."""

    count = serializers.IntegerField(required=False, help_text="Only with ?count=true.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueItemSerializer(many=True)


def queue_item(row: dict[str, Any]) -> dict[str, Any]:
    slug = row["customer_slug"]
    return {
        "id": row["ticket_id"],
        "number": row["number"],
        "customer": slug,
        "customer_name": row["customer_name"],
        "subject": row["subject"],
        "status": row["status"],
        "priority": row["priority"],
        "assignee": row["assignee_id"],
        "assignee_name": row["assignee_name"],
        "requester_name": row["requester_name"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "sla": {
            "first_response_due": row["first_response_due"],
            "resolution_due": row["resolution_due"],
        },
        "url": f"/api/v1/customers/{slug}/tickets/{row['ticket_id']}/",
    }


class UnifiedQueueView(AuditedMixin, generics.GenericAPIView):  # type: ignore[type-arg]
    """Every ticket of every customer the caller works, newest state from the index."""

    read_reach = Reach.CONSOLE
    filter_backends = [FilterBackend]
    filterset_class = QueueFilterSet
    pagination_class = None  # keyset paging of its own (tickets.index.queue)

    def get_queryset(self) -> QuerySet[TicketIndexEntry]:
        if getattr(self, "swagger_fake_view", False):
            return TicketIndexEntry.objects.none()
        return queue_entries(self.caller)

    @extend_schema(responses=QueuePageSerializer)
    def get(self, request: ApiRequest) -> Response:
        filterset = QueueFilterSet(request.query_params, self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise refusal(filterset)
        entries = filterset.qs
        ordering, cursor, size, count = filterset.paging()
        page = queue_page(entries, ordering, cursor, size)
        url = request.build_absolute_uri()

        def link(cursor: str | None) -> str | None:
            return replace_query_param(url, "cursor", cursor) if cursor else None

        body: dict[str, Any] = {}
        if count:
            body["count"] = entries.count()
        body |= {
            "next": link(page.next_cursor),
            "previous": link(page.previous_cursor),
            "results": [queue_item(row) for row in page.rows],
        }
        return Response(body)
