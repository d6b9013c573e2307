"""API: the unified queue, ``GET /api/v1/tickets/``, read from the public index only."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from serviflow.api.views import ApiView
from serviflow.http import ApiRequest
from tenants.access import Reach
from tickets.index.models import TicketIndexEntry
from tickets.index.queue import ORDERINGS, filters_from, queue_entries, queue_page

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class QueueItemSerializer(serializers.Serializer[Any]):
    """The shape of a queue item (for the schema); ``queue_item`` builds them from plain rows."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    customer = serializers.CharField()
    customer_name = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    assignee = serializers.IntegerField(allow_null=True)
    assignee_name = serializers.CharField(allow_null=True)
    requester_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    sla = serializers.DictField()
    url = serializers.CharField()


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


def page_size_from(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [f"A whole number from 1 to {MAX_PAGE_SIZE}."]})
    return int(raw)


class UnifiedQueueView(ApiView):
    """Every ticket of every customer the caller works, newest state from the index."""

    read_reach = Reach.CONSOLE

    @extend_schema(
        parameters=[
            OpenApiParameter("status", description="Comma-separated statuses, e.g. open,pending"),
            OpenApiParameter("customer", description="Comma-separated customer slugs"),
            OpenApiParameter("priority", description="Comma-separated priorities"),
            OpenApiParameter("assignee", description="'me', 'none' or an agent's id"),
            OpenApiParameter("ordering", description=", ".join(ORDERINGS)),
            OpenApiParameter("cursor", description="From a previous page's next/previous link"),
            OpenApiParameter("page_size", int, description="1-200, default 50"),
            OpenApiParameter("count", bool, description="Also count every matching ticket (costly)"),
        ],
        responses=QueueItemSerializer(many=True),
    )
    def get(self, request: ApiRequest) -> Response:
        user = request.user
        filters = filters_from(request.query_params)
        entries: QuerySet[TicketIndexEntry] = queue_entries(user, filters)
        page = queue_page(
            entries, filters.ordering, request.query_params.get("cursor"), page_size_from(request)
        )
        url = request.build_absolute_uri()

        def link(cursor: str | None) -> str | None:
            return replace_query_param(url, "cursor", cursor) if cursor else None

        body: dict[str, Any] = {}
        if request.query_params.get("count") in ("true", "1"):
            body["count"] = entries.count()
        body |= {
            "next": link(page.next_cursor),
            "previous": link(page.previous_cursor),
            "results": [queue_item(row) for row in page.rows],
        }
        return Response(body)
