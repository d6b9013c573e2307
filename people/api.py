"""API: a customer's users, ``/api/v1/customers/{slug}/users/``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import CustomerRole
from people.models import CustomerUser
from people.services import (
    CustomerUserChanges,
    CustomerUserFields,
    customer_user_create,
    customer_user_update,
)
from serviflow.api.fields import TimezoneField
from serviflow.api.serializers import InputModelSerializer
from serviflow.api.views import CustomerScopedViewSet
from sla.serializers import PolicyField
from tenants.access import CustomerAccess


class CustomerUserSerializer(InputModelSerializer):
    email = serializers.EmailField(source="user.email", max_length=254)
    name = serializers.CharField(source="user.name", max_length=150)
    role = serializers.ChoiceField(
        source="user.customer_role", choices=CustomerRole.choices, default=CustomerRole.USER
    )
    timezone = TimezoneField(source="user.timezone", default="UTC")
    sla_policy = PolicyField()
    is_active = serializers.BooleanField(source="user.is_active", required=False)
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )

    class Meta:
        model = CustomerUser
        fields = [
            "id",
            "email",
            "name",
            "role",
            "timezone",
            "sla_policy",
            "is_active",
            "password",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class CustomerUserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    CustomerScopedViewSet,
):
    """Provider staff who are members, and the customer's own admins and agents, manage users;
    a customer user with role ``user`` sees only themselves."""

    serializer_class = CustomerUserSerializer

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not access.manages_users:
            raise PermissionDenied("Only the customer's admins and agents can change its users.")

    def get_queryset(self) -> QuerySet[CustomerUser]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no customer resolved
            return CustomerUser.objects.none()
        profiles = CustomerUser.objects.select_related("user").order_by("id")
        if not self.access.manages_users:
            profiles = profiles.filter(user=self.access.user)
        return profiles

    def perform_create(self, serializer: CustomerUserSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        user_data: dict[str, Any] = data.get("user", {})
        serializer.instance = customer_user_create(
            customer=self.access.customer,
            fields=CustomerUserFields(
                email=user_data["email"],
                name=user_data["name"],
                role=user_data.get("customer_role", CustomerRole.USER),
                timezone=user_data.get("timezone", "UTC"),
                sla_policy=data.get("sla_policy"),
            ),
            password=data.get("password") or None,
            by=self.access.user,
        )

    def perform_update(self, serializer: CustomerUserSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        given: dict[str, Any] = {
            name: value
            for name, value in (data.get("user") or {}).items()
            if name in ("name", "email", "timezone", "is_active")
        }
        if "customer_role" in data.get("user", {}):
            given["role"] = data["user"]["customer_role"]
        if "sla_policy" in data:
            given["sla_policy"] = data["sla_policy"]
        if data.get("password"):
            given["password"] = data["password"]
        profile: CustomerUser = serializer.instance  # type: ignore[assignment]
        if profile.user_id == self.access.user.pk and given.get("is_active") is False:
            raise PermissionDenied("You cannot deactivate yourself.")
        customer_user_update(profile=profile, changes=CustomerUserChanges(**given), by=self.access.user)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deactivate the user (their sessions and tokens end at once). Nothing is deleted."""
        profile: CustomerUser = self.get_object()
        if profile.user_id == request.user.pk:
            raise PermissionDenied("You cannot deactivate yourself.")
        customer_user_update(
            profile=profile, changes=CustomerUserChanges(is_active=False), by=self.access.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
