"""API: the provider's SLA configuration (public schema).

``/api/v1/business-hours/`` and ``/api/v1/sla-policies/``: provider admins write, agents read,
and for everyone else (customer users of any role) these endpoints do not exist (404).
Writes go through ``sla.services``; refusals: 400 ``invalid`` (``fields`` by path, see
``sla.serializers``), 400 ``default_required`` (unsetting the default), 409 ``in_use`` (a
profile in use), 409 ``policy_in_use`` and 409 ``default_required`` (deleting a policy).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import AdminWritesOnly
from serviflow.api.views import ApiViewSet
from serviflow.unset import UNSET
from sla import services
from sla.models import BusinessHours, SlaPolicy
from sla.serializers import BusinessHoursSerializer, FillHolidaysSerializer, SlaPolicySerializer


class ProviderStaffOnly(permissions.BasePermission):
    """The SLA configuration is the provider's own: to anyone else it does not exist (404)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user.is_provider_staff:  # type: ignore[union-attr]
            raise NotFound
        return True


class _ConfigViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    permission_classes = [permissions.IsAuthenticated, ProviderStaffOnly, AdminWritesOnly]
    lookup_value_regex = "[0-9]+"


class BusinessHoursViewSet(_ConfigViewSet):
    """Business-hours profiles: time zone, weekly schedule, holidays."""

    serializer_class = BusinessHoursSerializer

    def get_queryset(self) -> QuerySet[BusinessHours]:
        return BusinessHours.objects.order_by("name", "pk")

    def perform_create(self, serializer: BusinessHoursSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = services.business_hours_create(
            name=data["name"],
            timezone=data["timezone"],
            schedule=data["schedule"],
            holidays=data["holidays"],
        )

    def perform_update(self, serializer: BusinessHoursSerializer) -> None:  # type: ignore[override]
        data: dict[str, Any] = serializer.validated_data
        services.business_hours_update(
            business_hours=serializer.instance,  # type: ignore[arg-type]
            name=data.get("name", UNSET),
            timezone=data.get("timezone", UNSET),
            schedule=data.get("schedule", UNSET),
            holidays=data.get("holidays", UNSET),
        )

    def perform_destroy(self, instance: BusinessHours) -> None:
        services.business_hours_delete(business_hours=instance)

    @extend_schema(request=FillHolidaysSerializer, responses={200: BusinessHoursSerializer})
    @action(detail=True, methods=["post"], url_path="fill-holidays")
    def fill_holidays(self, request: Request, pk: str | None = None) -> Response:
        """Add a country's public holidays for some years to the profile, as plain dates
        (merged with the dates it has, sorted). Returns the profile."""
        profile = self.get_object()
        form = FillHolidaysSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        profile = services.holidays_fill(
            business_hours=profile,
            country=data["country"],
            subdivision=data.get("subdivision") or None,
            years=data["year_range"],
        )
        return Response(BusinessHoursSerializer(profile).data, status=status.HTTP_200_OK)


class SlaPolicyViewSet(_ConfigViewSet):
    """SLA policies: targets per priority, business hours, warning threshold, the default."""

    serializer_class = SlaPolicySerializer

    def get_queryset(self) -> QuerySet[SlaPolicy]:
        return SlaPolicy.objects.order_by("name", "pk")

    def perform_create(self, serializer: SlaPolicySerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = services.sla_policy_create(
            name=data["name"],
            targets=data["targets"],
            business_hours=data.get("business_hours"),
            warning_percent=data.get("warning_percent", 80),
            is_default=data.get("is_default", False),
        )

    def perform_update(self, serializer: SlaPolicySerializer) -> None:  # type: ignore[override]
        data: dict[str, Any] = serializer.validated_data
        services.sla_policy_update(
            policy=serializer.instance,  # type: ignore[arg-type]
            name=data.get("name", UNSET),
            business_hours=data.get("business_hours", UNSET),
            targets=data.get("targets", UNSET),
            warning_percent=data.get("warning_percent", UNSET),
            is_default=data.get("is_default", UNSET),
        )

    def perform_destroy(self, instance: SlaPolicy) -> None:
        services.sla_policy_delete(policy=instance)
