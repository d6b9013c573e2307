"""API routes of the SLA: business hours, policies, the simulator; re-applying SLAs to a
customer's open tickets (``customer_urlpatterns``, under ``customers/<slug>/``)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from sla.api import BusinessHoursViewSet, SimulateView, SlaPolicyViewSet, SlaReapplyView

router = SimpleRouter()
router.register("business-hours", BusinessHoursViewSet, basename="business-hours")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")

urlpatterns = [
    path("sla/simulate/", SimulateView.as_view(), name="sla-simulate"),
    *router.urls,
]

customer_urlpatterns = [
    path("sla/reapply/", SlaReapplyView.as_view(), name="sla-reapply"),
]
