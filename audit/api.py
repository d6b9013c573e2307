"""API of the audit trail (api.md): the entries of one chain (the provider's own in the public
schema, or a customer's), newest first, filtered by actor, action and days; verifying every
chain, and the heads as published."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import CustomerRole
from audit import chain
from audit.filtersets import ACTIONS, AuditFilterSet, ChainFilterSet
from audit.forms import chain_customer, cleaned_period
from audit.models import AuditEntry
from audit.presenters import ACTION_NAMES
from people import review
from serviflow.api.views import ApiView, ApiViewSet, CustomerScopedViewSet
from serviflow.filters import DAY_SCHEMA, FilterBackend
from serviflow.http import ApiRequest
from tenants.access import CustomerAccess, Reach
from tenants.schema import customer_schema
from tickets.types.masking import changes_for_customer, hidden_keys

AUDIT_REFUSAL = "Only provider admins can verify the audit trail."
CUSTOMER_REFUSAL = "Only your company's admins can read its audit trail."


class VerifySerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    entries = serializers.IntegerField(help_text="Entries checked, in every chain.")
    first_bad = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of the first entry that fails (when not ok)."
    )
    chain = serializers.CharField(required=False, help_text="The chain that fails (when not ok).")
    first_bad_seq = serializers.IntegerField(required=False, allow_null=True)
    problem = serializers.CharField(required=False)


class HeadSerializer(serializers.Serializer[Any]):
    chain = serializers.CharField()
    seq = serializers.IntegerField()
    hash = serializers.CharField()
    entry_id = serializers.IntegerField(allow_null=True)
    signed_at = serializers.CharField()
    signature = serializers.CharField()


class VerifyView(ApiView):
    read_reach = write_reach = Reach.ADMIN
    refusal = AUDIT_REFUSAL

    @extend_schema(responses=VerifySerializer)
    def get(self, request: Request) -> Response:
        """Re-hash every audit chain; the first bad entry is named."""
        entries = 0
        for name in chain.chains():
            verdict = chain.verify(name)
            entries += verdict.entries
            if not verdict.ok:
                return Response(
                    {
                        "ok": False,
                        "entries": entries,
                        "first_bad": verdict.first_bad,
                        "chain": name,
                        "first_bad_seq": verdict.first_bad_seq,
                        "problem": verdict.problem,
                    }
                )
        return Response({"ok": True, "entries": entries})


class HeadsView(ApiView):
    read_reach = write_reach = Reach.ADMIN
    refusal = AUDIT_REFUSAL

    @extend_schema(responses=HeadSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every chain's head, signed now (what the beat job writes to the log)."""
        return Response([asdict(head) for head in chain.current_heads(timezone.now())])


class ActorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(help_text="The person's name (provider staff by name, to customers too)")


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    at = serializers.DateTimeField(source="timestamp")
    actor = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    object_type = serializers.SerializerMethodField()
    object_id = serializers.CharField(source="object_pk")
    seq = serializers.IntegerField(
        source="seal.seq",
        read_only=True,
        allow_null=True,
        help_text="Its place in the chain (null until sealed)",
    )
    hash = serializers.CharField(source="seal.hash", read_only=True, allow_null=True)

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
            "seq",
            "hash",
        ]
        read_only_fields = fields

    def to_representation(self, instance: AuditEntry) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        hidden = self.context.get("hidden_fields")
        if hidden is not None:  # a customer-side reader: not the fields only the desk sees
            data["changes"] = changes_for_customer(data["object_type"], data["changes"], hidden)
        return data

    @extend_schema_field(ActorSerializer(allow_null=True))
    def get_actor(self, entry: AuditEntry) -> dict[str, Any] | None:
        if entry.actor_id is None:
            return None
        return {
            "id": entry.actor_id,
            "email": entry.actor_email,
            "name": entry.actor.name if entry.actor else "",
        }

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_job(self, entry: AuditEntry) -> str | None:
        return entry.job or None

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="null: the provider's own"))
    def get_customer(self, entry: AuditEntry) -> str | None:
        slug = self.context.get("customer")
        return str(slug) if slug else None

    @extend_schema_field(serializers.ChoiceField(choices=list(ACTIONS)))
    def get_action(self, entry: AuditEntry) -> str:
        return ACTION_NAMES[entry.action]

    def get_object_type(self, entry: AuditEntry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"


def newest_first() -> QuerySet[AuditEntry]:
    """The entries of the chain on the search path, newest first, with what a reader shows."""
    entries: QuerySet[AuditEntry] = AuditEntry.objects.select_related("content_type", "actor", "seal")
    return entries.order_by("-timestamp", "-id")


class AuditEntryViewSet(mixins.ListModelMixin, ApiViewSet):
    """One audit chain's entries, newest first: the provider's own (customers, agents, tokens,
    passes), or with ``?customer=`` that customer's (its tickets, people, CIs, settings)."""

    serializer_class = AuditEntrySerializer
    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins can read the audit trail."
    filter_backends = [FilterBackend]
    filterset_class = ChainFilterSet

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return newest_first()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["customer"] = getattr(self, "chain_customer", None)
        return context

    def list(self, request: ApiRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        customer = chain_customer(request.user, request.query_params)
        if customer is None:
            return super().list(request, *args, **kwargs)
        self.chain_customer = customer.slug
        with customer_schema(customer):
            return super().list(request, *args, **kwargs)


class CustomerAuditViewSet(mixins.ListModelMixin, CustomerScopedViewSet):
    """The customer's own entries (its tickets, people, CIs, settings), newest first: for its
    admins and the provider's staff who may see it (occasional agents with the reports scope)."""

    serializer_class = AuditEntrySerializer
    read_reach = Reach.SIGNED_IN
    write_reach = Reach.ADMIN
    scope = "reports"
    filter_backends = [FilterBackend]
    filterset_class = AuditFilterSet

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if not access.is_provider_staff and access.customer_role != CustomerRole.ADMIN:
            raise PermissionDenied(CUSTOMER_REFUSAL)

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return newest_first()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["customer"] = self.access.customer.slug if hasattr(self, "access") else None
        if hasattr(self, "access") and not self.access.works_tickets:
            context["hidden_fields"] = hidden_keys()  # customer admins (changes_shown's rule)
        return context


class GrantSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(allow_null=True)
    by = serializers.CharField(help_text="an email, a job's name, or empty (before the audit trail)")


class AccessRowSerializer(serializers.Serializer[Any]):
    customer = serializers.CharField(help_text="a slug, or * for every customer")
    customer_name = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=review.ROLES)
    granted = GrantSerializer()
    revoked = GrantSerializer(allow_null=True)
    passes_used = serializers.IntegerField(allow_null=True, help_text="occasional agents: in the period")
    last_access = serializers.DateTimeField(allow_null=True)
    deactivated_at = serializers.DateTimeField(allow_null=True)
    deactivation_to_last_access_seconds = serializers.SerializerMethodField()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_deactivation_to_last_access_seconds(self, row: review.AccessRow) -> int | None:
        gap = row.deactivation_to_last_access
        return None if gap is None else int(gap.total_seconds())


class AccessReviewView(ApiView):
    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins can review access."

    @extend_schema(
        parameters=[
            OpenApiParameter(
                name, location=OpenApiParameter.QUERY, required=True, type=DAY_SCHEMA, description=text
            )
            for name, text in (("from", "first day (UTC)"), ("to", "last day (UTC), at most a year after"))
        ],
        responses=AccessRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """Who had access to which customer in the period, with which role, granted and revoked
        when and by whom, and their last access."""
        start, end = cleaned_period(request.query_params)
        return Response(AccessRowSerializer(review.access_review(start, end), many=True).data)
