"""API: the unified queue, ``GET /api/v1/tickets/``, read from the public index only."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.models import User
from serviflow.api.views import ApiView
from tickets.index.models import NO_DUE, TicketIndexEntry
from tickets.index.queue import ORDERINGS, filters_from, queue_entries, queue_page

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class QueueItemSerializer(serializers.ModelSerializer[TicketIndexEntry]):
    id = serializers.IntegerField(source="ticket_id")
    customer = serializers.CharField(source="customer.slug")
    customer_name = serializers.CharField(source="customer.name")
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True)
    assignee_name = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = TicketIndexEntry
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "subject",
            "status",
            "priority",
            "assignee",
            "assignee_name",
            "requester_name",
            "created_at",
            "updated_at",
            "sla",
            "url",
        ]

    def get_assignee_name(self, entry: TicketIndexEntry) -> str | None:
        return entry.assignee.name if entry.assignee else None

    def get_sla(self, entry: TicketIndexEntry) -> dict[str, Any]:
        return {
            "first_response_due": entry.first_response_due,
            "resolution_due": entry.resolution_due if entry.due_sort != NO_DUE else None,
        }

    def get_url(self, entry: TicketIndexEntry) -> str:
        return f"/api/v1/customers/{entry.customer.slug}/tickets/{entry.ticket_id}/"


def page_size_from(request: Request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValidationError({"page_size": [f"A whole number from 1 to {MAX_PAGE_SIZE}."]})
    return int(raw)


def queue_for_agents(user: User) -> None:
    if not user.may_use_console:
        raise PermissionDenied("The unified queue is for agents; use /api/v1/customers/{slug}/tickets/.")


class UnifiedQueueView(ApiView):
    """Every ticket of every customer the caller works, newest state from the index."""

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
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        queue_for_agents(user)
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
            "results": QueueItemSerializer(page.rows, many=True).data,
        }
        return Response(body)
