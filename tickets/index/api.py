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
from tickets.filtersets import QueueFilterSet, SearchFilterSet, search_cursor
from tickets.index.models import TicketIndexEntry, TicketSearchEntry
from tickets.index.queue import queue_entries, queue_page
from tickets.index.search import Hit, search_page
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


class SearchHitSerializer(serializers.Serializer[Any]):
    """One ticket found (for the schema; ``search_hit`` builds them)."""

    customer = serializers.CharField(help_text="The customer's slug")
    customer_name = serializers.CharField()
    ticket = serializers.IntegerField(help_text="The ticket's id within its customer")
    reference = serializers.CharField(help_text="As people quote it: ACME-12")
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    assignee_name = serializers.CharField(allow_null=True)
    snippet = serializers.CharField(
        help_text="Safe HTML: the ticket's text around the matches, escaped, each match in <mark>…</mark>"
    )
    rank = serializers.FloatField(help_text="Higher first; 2.0 for the ticket a reference names")
    url = serializers.CharField()


class SearchPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True)
    results = SearchHitSerializer(many=True)


def search_hit(hit: Hit) -> dict[str, Any]:
    return {
        "customer": hit.customer_slug,
        "customer_name": hit.customer_name,
        "ticket": hit.ticket_id,
        "reference": hit.reference,
        "subject": hit.subject,
        "status": hit.status,
        "priority": hit.priority,
        "assignee_name": hit.assignee_name,
        "snippet": str(hit.snippet),
        "rank": hit.rank,
        "url": f"/api/v1/customers/{hit.customer_slug}/tickets/{hit.ticket_id}/",
    }


class SearchView(AuditedMixin, generics.GenericAPIView):  # type: ignore[type-arg]
    """Full-text search over the tickets of every customer the caller may see, as they may
    read them: customer users their own tickets (their company's for its admins) and never a
    private note's words. Words are prefixes and accents do not count; a ticket reference
    (ACME-12; a bare 12 with one customer) puts that ticket first. Hits are ranked among the
    newest 1,000 matching tickets: add a word or a filter to reach older matches of a common
    word. Paged with ``next`` (a cursor)."""

    read_reach = Reach.SIGNED_IN
    filter_backends = [FilterBackend]
    filterset_class = SearchFilterSet
    pagination_class = None

    def get_queryset(self) -> QuerySet[TicketSearchEntry]:
        return TicketSearchEntry.objects.none()  # the search reads through tickets.index.search

    @extend_schema(responses=SearchPageSerializer, filters=True)
    def get(self, request: ApiRequest) -> Response:
        filterset = SearchFilterSet(request.query_params, self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise refusal(filterset)
        reader, query, filters, offset, size = filterset.search_args()
        page = search_page(reader, query, filters, offset=offset, size=size)
        url = request.build_absolute_uri()
        body = {
            "next": replace_query_param(url, "cursor", search_cursor(page.next_offset))
            if page.next_offset is not None
            else None,
            "results": [search_hit(hit) for hit in page.hits],
        }
        return Response(body)
