"""API: customers. Provider admins write; agents read the customers they are members of."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from serviflow.api.fields import TimezoneField
from serviflow.api.serializers import InputModelSerializer
from serviflow.api.views import ApiViewSet
from sla.models import BusinessHours, SlaPolicy
from tenants.access import Reach, customers_visible_to
from tenants.models import Customer
from tenants.services import (
    CustomerChanges,
    customer_archive,
    customer_email_domains,
    customer_provision,
    customer_restore,
    customer_update,
)
from tenants.validators import EMAIL_DOMAIN_PATTERN, MAX_EMAIL_DOMAIN, MAX_EMAIL_DOMAINS


@extend_schema_field(
    # tenants.validators.validate_slug: SLUG_PATTERN without "--" (reserved words are refused too)
    {"type": "string", "pattern": r"^[a-z0-9]+(-[a-z0-9]+)*$", "minLength": 1, "maxLength": 40}
)
class SlugField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "pattern": EMAIL_DOMAIN_PATTERN, "maxLength": MAX_EMAIL_DOMAIN})
class MailDomainField(serializers.CharField):
    """One mail domain as given (checked by ``tenants.validators.email_domain`` on save)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_EMAIL_DOMAIN, trim_whitespace=False, **kwargs)


class MailDomainsField(serializers.ListField):
    """A customer's mail domains (``tenants.EmailDomain`` rows), read and written as a list."""

    def get_attribute(self, instance: Customer) -> list[str]:
        return customer_email_domains(instance)


class CustomerSerializer(InputModelSerializer):
    slug = SlugField(max_length=40)
    timezone = TimezoneField(default="UTC")
    default_sla = serializers.PrimaryKeyRelatedField(
        queryset=SlaPolicy.objects.all(), allow_null=True, required=False
    )
    business_hours = serializers.PrimaryKeyRelatedField(
        queryset=BusinessHours.objects.all(), allow_null=True, required=False
    )
    portal_url = serializers.CharField(read_only=True)
    is_active = serializers.BooleanField(required=False)
    email_domains = MailDomainsField(
        child=MailDomainField(),
        max_length=MAX_EMAIL_DOMAINS,
        required=False,
        help_text='The mail domains the customer\'s people write from, e.g. ["acme.com"].',
    )
    satisfaction_surveys = serializers.BooleanField(
        source="settings.satisfaction_surveys",
        required=False,
        help_text="Ask requesters to rate their resolved tickets (by email and in the portal).",
    )

    class Meta:
        model = Customer
        fields = [
            "name",
            "slug",
            "timezone",
            "default_sla",
            "business_hours",
            "portal_url",
            "is_active",
            "created_at",
            "email_domains",
            "satisfaction_surveys",
        ]
        read_only_fields = ["created_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is not None:  # a change may repeat the slug, never change it
            self.fields["slug"].required = False

    def validate_slug(self, value: str) -> str:
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("The slug of an existing customer cannot be changed.")
        return value


class CustomerChangeSerializer(CustomerSerializer):
    """What a change takes (for the schema): everything but the slug, which never changes."""

    class Meta(CustomerSerializer.Meta):
        fields = [name for name in CustomerSerializer.Meta.fields if name != "slug"]


@extend_schema_view(
    update=extend_schema(request=CustomerChangeSerializer),
    partial_update=extend_schema(request=CustomerChangeSerializer),
)
class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = CustomerSerializer
    write_reach = Reach.ADMIN  # reads: everyone sees the customers they may (get_queryset)
    refusal = "Only provider admins can change customers."
    lookup_field = "slug"
    lookup_value_regex = "[a-z0-9-]+"

    def get_queryset(self) -> QuerySet[Customer]:
        user = self.caller
        return (
            customers_visible_to(user)
            .select_related("settings")
            .prefetch_related("email_domains")
            .order_by("name")
        )

    def perform_create(self, serializer: CustomerSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = customer_provision(
            name=data["name"],
            slug=data["slug"],
            timezone_name=data["timezone"],
            default_sla=data.get("default_sla"),
            business_hours=data.get("business_hours"),
            email_domains=data.get("email_domains", ()),
        )
        surveys = data.get("settings", {}).get("satisfaction_surveys")
        if surveys is False:  # on by default
            customer_update(customer=serializer.instance, changes=CustomerChanges(satisfaction_surveys=False))

    def perform_update(self, serializer: CustomerSerializer) -> None:  # type: ignore[override]
        data: dict[str, Any] = serializer.validated_data
        customer: Customer = serializer.instance  # type: ignore[assignment]
        surveys = data.get("settings", {}).get("satisfaction_surveys")
        customer_update(
            customer=customer,
            changes=CustomerChanges(
                **{
                    name: data[name]
                    for name in ("name", "timezone", "default_sla", "business_hours", "email_domains")
                    if name in data
                },
                **({} if surveys is None else {"satisfaction_surveys": surveys}),
            ),
        )
        if data.get("is_active") is False:
            customer_archive(customer=customer)
        elif data.get("is_active") is True:
            customer_restore(customer=customer)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Archive the customer (is_active=false). Nothing is ever dropped."""
        customer_archive(customer=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
