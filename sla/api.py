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
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from serviflow.api.views import ApiView, ApiViewSet, CustomerScopedMixin
from sla import services
from sla.models import BusinessHours, SlaPolicy
from sla.presenters import simulation_json
from sla.serializers import (
    BusinessHoursSerializer,
    FillHolidaysSerializer,
    ReapplySerializer,
    SimulateSerializer,
    SlaPolicySerializer,
)
from tenants.access import Reach
from tickets.sla.reapply import Preview, reapply_commit, reapply_preview


class _ConfigViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    read_reach, write_reach = Reach.STAFF, Reach.ADMIN
    refusal = "Only provider admins can change the SLA configuration."


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
            changes=services.ProfileChanges(**data),
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
            changes=services.PolicyChanges(**data),
        )

    def perform_destroy(self, instance: SlaPolicy) -> None:
        services.sla_policy_delete(policy=instance)


# --- the engine itself: the simulator, re-applying SLAs to a customer's open tickets ----------------


class SimulateView(ApiView):
    read_reach = write_reach = Reach.STAFF  # the engine on given instants: it changes nothing

    @extend_schema(request=SimulateSerializer, responses={200: {"type": "object"}})
    def post(self, request: Request) -> Response:
        """Run the engine on given instants: due times, both clocks and the segments."""
        data = SimulateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(simulation_json(data.simulation()))


def preview_json(preview: Preview) -> dict[str, Any]:
    return {
        "open_tickets": preview.open_tickets,
        "count": len(preview.moves),
        "snapshots_renewed": preview.refreshed,
        "fingerprint": preview.fingerprint,
        "tickets": [
            {
                "id": move.ticket_id,
                "number": move.number,
                "subject": move.subject,
                "policy_before": move.policy_before,
                "policy_after": move.policy_after,
                "reason": move.reason_after,
                "first_response_due": {
                    "before": move.first_response_due[0],
                    "after": move.first_response_due[1],
                },
                "resolution_due": {"before": move.resolution_due[0], "after": move.resolution_due[1]},
                "shift_minutes": move.shift_minutes,
            }
            for move in preview.moves
        ],
    }


class SlaReapplyView(CustomerScopedMixin, APIView):
    """Re-apply SLAs to the customer's open tickets (provider admins). Without ``confirm`` it
    previews; with the preview's fingerprint it applies exactly that (409 if things changed)."""

    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins can re-apply SLAs."

    @extend_schema(request=ReapplySerializer, responses={200: {"type": "object"}})
    def post(self, request: Request, slug: str) -> Response:
        data = ReapplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        fingerprint = data.validated_data.get("confirm")
        if not fingerprint:
            return Response(
                {"applied": False, **preview_json(reapply_preview(customer=self.access.customer, now=now))}
            )
        preview = reapply_commit(
            customer=self.access.customer, by=self.access.user, fingerprint=fingerprint, now=now
        )
        return Response({"applied": True, **preview_json(preview)})
