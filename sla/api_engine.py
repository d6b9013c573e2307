"""API of the SLA engine itself: the simulator and the re-apply action (the configuration of
profiles and policies is in ``sla.api``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from serviflow.api.views import ApiView, CustomerScopedMixin
from sla.api import ProviderStaffOnly
from sla.reapply import Preview, reapply_commit, reapply_preview
from sla.simulate import SimulateSerializer, simulate
from tenants.access import CustomerAccess


class SimulateView(ApiView):
    permission_classes = [*ApiView.permission_classes, ProviderStaffOnly]

    @extend_schema(request=SimulateSerializer, responses={200: {"type": "object"}})
    def post(self, request: Request) -> Response:
        """Run the engine on given instants: due times, both clocks and the segments."""
        data = SimulateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(simulate(dict(data.validated_data)))


class ReapplySerializer(serializers.Serializer[Any]):
    confirm = serializers.CharField(
        required=False, help_text="The fingerprint of the preview to apply; without it, only the preview."
    )


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

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if not access.user.is_provider_staff:
            raise Http404
        if not access.user.is_provider_admin:
            raise PermissionDenied("Only provider admins can re-apply SLAs.")

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
