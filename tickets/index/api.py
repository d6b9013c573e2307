"""API: the unified queue (``GET /api/v1/tickets/``, read from the public index only), bulk
changes to tickets of the queue (``POST /api/v1/tickets/bulk/``) and saved views of the queue
(``/api/v1/views/``), for provider agents."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.parsers import BIGINT_MAX
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from serviflow.api.views import ApiView, ApiViewSet, AuditedMixin
from serviflow.filters import FilterBackend, refusal
from serviflow.http import ApiRequest
from tenants.access import Reach
from tenants.validators import SLUG_PATTERN
from tickets.bulk import ACTIONS, MAX_TICKETS, Target, tickets_bulk
from tickets.filtersets import QueueFilterSet, SearchFilterSet, search_cursor, view_filters
from tickets.forms import bulk_value
from tickets.index import saved
from tickets.index.models import SavedView, TicketIndexEntry, TicketSearchEntry
from tickets.index.queue import ORDERINGS, queue_entries, queue_page
from tickets.index.search import Hit, search_page
from tickets.index.states import BREACHED, NONE, ON_TRACK, PAUSED, WARNING, row_state
from tickets.models import Priority, Status


class QueueSlaSerializer(serializers.Serializer[Any]):
    first_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)
    clock = serializers.ChoiceField(
        choices=["first_response", "resolution", ""],
        help_text="The clock the queue shows: the running clock due first (first response runs until met); "
        "empty once both stopped.",
    )
    due = serializers.DateTimeField(allow_null=True, help_text="That clock's due instant.")
    warning_at = serializers.DateTimeField(allow_null=True, help_text="That clock's warning instant.")
    state = serializers.ChoiceField(
        choices=[ON_TRACK, WARNING, BREACHED, PAUSED, NONE], help_text="At the time of the request."
    )
    paused = serializers.BooleanField()
    breached_at = serializers.DateTimeField(
        allow_null=True, help_text="The first breach recorded on either clock."
    )


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
    last_public_from = serializers.ChoiceField(choices=["agent", "customer"])
    customer_replied = serializers.BooleanField(
        help_text="The customer wrote the latest public message, after an agent's public reply."
    )
    request_type = serializers.CharField(allow_null=True, help_text="The request type's name.")
    fields = serializers.DictField(help_text="Custom field values by key.")  # type: ignore[assignment]
    url = serializers.CharField()


class QueuePageSerializer(serializers.Serializer[Any]):
    """A page of the queue: cursor links, and ``count`` only when asked for (``?count=true``)."""

    count = serializers.IntegerField(required=False, help_text="Only with ?count=true.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueItemSerializer(many=True)


def queue_item(row: dict[str, Any], now: Any) -> dict[str, Any]:
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
            "clock": row["sla_clock"],
            "due": row["sla_due"],
            "warning_at": row["sla_warn_at"],
            "state": row_state(row, now),
            "paused": row["sla_paused"],
            "breached_at": row["sla_breached_at"],
        },
        "last_public_from": row["last_public_from"],
        "customer_replied": row["customer_replied"],
        "request_type": row["request_type_name"] or None,
        "fields": row["fields"],
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

    @extend_schema(responses=QueuePageSerializer, filters=True)
    def get(self, request: ApiRequest) -> Response:
        filterset = QueueFilterSet(request.query_params, self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise refusal(filterset)
        entries = filterset.qs
        ordering, cursor, size, count = filterset.paging()
        page = queue_page(entries, ordering, cursor, size)
        now = timezone.now()
        url = request.build_absolute_uri()

        def link(cursor: str | None) -> str | None:
            return replace_query_param(url, "cursor", cursor) if cursor else None

        body: dict[str, Any] = {}
        if count:
            body["count"] = entries.count()
        body |= {
            "next": link(page.next_cursor),
            "previous": link(page.previous_cursor),
            "results": [queue_item(row, now) for row in page.rows],
        }
        return Response(body)


# --- bulk changes ------------------------------------------------------------------------------------


class BulkTicketSerializer(InputSerializer):
    customer = serializers.RegexField(SLUG_PATTERN.pattern, max_length=40, help_text="The customer's slug.")
    id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="The ticket's id.")


@extend_schema_field({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}], "nullable": True})
class BulkValueField(serializers.JSONField):
    """What the action takes: an agent's id (a number) or text, or null; checked per action."""

    json_types = (int, str)


class BulkSerializer(InputSerializer):
    tickets = serializers.ListField(child=BulkTicketSerializer(), min_length=1, max_length=MAX_TICKETS)
    action = serializers.ChoiceField(choices=ACTIONS)
    value = BulkValueField(
        required=False,
        allow_null=True,
        help_text="assign: an agent's id, 'me' or null (unassign); status: open, pending, resolved "
        "or closed; priority: P1-P4; note: the private note's text.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            attrs["value"] = bulk_value(attrs["action"], attrs.get("value"), self.context["request"].user)
        except ValidationError as exc:
            raise serializers.ValidationError({"value": exc.messages}) from None
        return attrs


class BulkOutcomeSerializer(serializers.Serializer[Any]):
    customer = serializers.CharField()
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    code = serializers.CharField(required=False, help_text="Why not (the workflow's error code).")
    detail = serializers.CharField(required=False)


class BulkResultSerializer(serializers.Serializer[Any]):
    results = BulkOutcomeSerializer(many=True)


class BulkView(ApiView):
    """The same change to many tickets, each through its workflow in its own transaction: one
    refusal undoes nothing else. A ticket of a customer you may not see is ``not_found``."""

    read_reach = write_reach = Reach.STAFF

    @extend_schema(request=BulkSerializer, responses={200: BulkResultSerializer})
    def post(self, request: ApiRequest) -> Response:
        body = BulkSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcomes = tickets_bulk(
            by=self.caller,
            targets=[Target(customer=item["customer"], id=item["id"]) for item in data["tickets"]],
            action=data["action"],
            value=data["value"],
        )
        return Response({"results": [outcome.as_json() for outcome in outcomes]})


# --- saved views -------------------------------------------------------------------------------------


class SavedViewSerializer(InputModelSerializer):
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000),
        required=False,
        help_text="Queue filters as in the query string: status, priority, customer, assignee, sla, replied.",
    )
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False)
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    editable = serializers.SerializerMethodField()

    class Meta:
        model = SavedView
        fields = ["id", "name", "shared", "filters", "ordering", "builtin", "owner", "editable"]
        read_only_fields = ["id", "builtin", "owner", "editable"]
        extra_kwargs = {"name": {"max_length": saved.NAME_MAX}}

    def get_editable(self, view: SavedView) -> bool:
        return saved.may_change(self.context["request"].user, view)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "filters" in attrs or "ordering" in attrs:
            current = self.instance
            try:
                attrs["filters"], attrs["ordering"] = view_filters(
                    attrs.get("filters", current.filters if current else {}),
                    attrs.get("ordering", current.ordering if current else None),
                    user=self.context["request"].user,
                )
            except ValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class SavedViewViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """Saved views of the queue: the built-in ones, yours and those shared with every agent.
    Only the owner or a provider admin changes or deletes a view (403), nobody a built-in one."""

    read_reach = write_reach = Reach.STAFF
    serializer_class = SavedViewSerializer

    def get_queryset(self) -> QuerySet[SavedView]:
        if getattr(self, "swagger_fake_view", False):
            return SavedView.objects.none()
        return saved.views_visible_to(self.caller)

    def perform_create(self, serializer: SavedViewSerializer) -> None:  # type: ignore[override]
        fields = saved.ViewFields(**serializer.validated_data)
        serializer.instance = saved.view_create(by=self.caller, fields=fields)

    def perform_update(self, serializer: SavedViewSerializer) -> None:  # type: ignore[override]
        serializer.instance = saved.view_update(
            by=self.caller,
            view=serializer.instance,  # type: ignore[arg-type]
            fields=saved.ViewFields(**serializer.validated_data),
        )

    def perform_destroy(self, instance: SavedView) -> None:
        saved.view_delete(by=self.caller, view=instance)


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
