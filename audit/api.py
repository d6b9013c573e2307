"""API of the audit trail (api.md): the entries of one chain of entries (the provider's own in
the public schema, or a customer's), newest first, filtered by actor, action and days."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit.filtersets import ACTIONS, AuditFilterSet
from audit.models import AuditEntry
from serviflow.api.serializers import InputSerializer
from serviflow.api.views import ApiViewSet
from serviflow.filters import FilterBackend
from serviflow.http import ApiRequest
from tenants.access import Reach, customers_visible_to
from tenants.models import Customer
from tenants.schema import customer_schema


class ActorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()


_ACTION_NAMES = {value: name for name, value in ACTIONS.items()}


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    at = serializers.DateTimeField(source="timestamp")
    actor = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    object_type = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk")

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "job",
            "channel",
            "customer",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
        ]
        read_only_fields = fields

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_actor(self, entry: AuditEntry) -> dict[str, Any] | None:
        return None if entry.actor_id is None else {"id": entry.actor_id, "email": entry.actor_email}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_job(self, entry: AuditEntry) -> str | None:
        return entry.job or None

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="null: the provider's own"))
    def get_customer(self, entry: AuditEntry) -> str | None:
        slug = self.context.get("customer")
        return str(slug) if slug else None

    @extend_schema_field(serializers.ChoiceField(choices=list(ACTIONS)))
    def get_action(self, entry: AuditEntry) -> str:
        return _ACTION_NAMES[entry.action]

    def get_object_type(self, entry: AuditEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


class ChainQuerySerializer(InputSerializer):
    customer = serializers.SlugField(max_length=63, allow_blank=True)


class AuditEntryViewSet(mixins.ListModelMixin, ApiViewSet):
    """One audit chain's entries, newest first: the provider's own (customers, agents, tokens,
    passes), or with ``?customer=`` that customer's (its tickets, people, CIs, settings)."""

    serializer_class = AuditEntrySerializer
    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins can read the audit trail."
    filter_backends = [FilterBackend]
    filterset_class = AuditFilterSet

    def get_queryset(self) -> QuerySet[AuditEntry]:
        entries: QuerySet[AuditEntry] = AuditEntry.objects.select_related("content_type")
        return entries.order_by("-timestamp", "-id")

    def _customer(self, request: ApiRequest) -> Customer | None:
        """The customer whose chain is read (None: the provider's), as the caller may see it."""
        query = ChainQuerySerializer(data={"customer": request.query_params.get("customer", "")})
        query.is_valid(raise_exception=True)
        slug = query.validated_data["customer"]
        if not slug:
            return None
        customer = customers_visible_to(request.user).filter(slug=slug).first()
        if customer is None:
            raise ValidationError({"customer": [f"No customer has the slug {slug}."]})
        return customer

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["customer"] = getattr(self, "chain_customer", None)
        return context

    def list(self, request: ApiRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        customer = self._customer(request)
        if customer is None:
            return super().list(request, *args, **kwargs)
        self.chain_customer = customer.slug
        with customer_schema(customer):
            return super().list(request, *args, **kwargs)
