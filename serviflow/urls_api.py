from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from accounts.api import AgentViewSet, AuthTokenView, MeView
from billing import api as billing_api
from cmdb.api import CiRelationViewSet, CiViewSet
from notifications.api import NotificationViewSet
from people.api import CustomerUserViewSet
from sla.api import BusinessHoursViewSet, SlaPolicyViewSet
from sla.api_engine import SimulateView, SlaReapplyView
from tenants.api import CustomerViewSet
from tickets.api import (
    AttachmentViewSet,
    CommentViewSet,
    TicketHistoryViewSet,
    TicketSlaViewSet,
    TicketViewSet,
)
from tickets.index.api import UnifiedQueueView

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("agents", AgentViewSet, basename="agent")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("business-hours", BusinessHoursViewSet, basename="business-hours")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")

# Everything under customers/{slug}/ is customer-scoped (CustomerScopedViewSet).
customer_router = SimpleRouter()
customer_router.register("users", CustomerUserViewSet, basename="customer-user")
customer_router.register("tickets", TicketViewSet, basename="ticket")
customer_router.register("cis", CiViewSet, basename="ci")

ticket_urls = [
    path("comments/", CommentViewSet.as_view({"get": "list", "post": "create"}), name="ticket-comments"),
    path(
        "attachments/",
        AttachmentViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-attachments",
    ),
    path(
        "attachments/<int:pk>/download/",
        AttachmentViewSet.as_view({"get": "download"}),
        name="ticket-attachment-download",
    ),
    path("history/", TicketHistoryViewSet.as_view({"get": "list"}), name="ticket-history"),
    path("sla/", TicketSlaViewSet.as_view({"get": "retrieve"}), name="ticket-sla"),
]

ci_urls = [
    path(
        "relations/",
        CiRelationViewSet.as_view({"get": "list", "post": "create"}),
        name="ci-relations",
    ),
    path("relations/<str:pk>/", CiRelationViewSet.as_view({"delete": "destroy"}), name="ci-relation"),
]

urlpatterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("day-passes/", billing_api.DayPassPoolView.as_view(), name="day-passes"),
    path("day-passes/activate/", billing_api.ActivateView.as_view(), name="day-pass-activate"),
    path(
        "day-passes/purchases/",
        billing_api.PurchaseViewSet.as_view({"get": "list", "post": "create"}),
        name="day-pass-purchases",
    ),
    path(
        "day-passes/consumptions/",
        billing_api.ConsumptionViewSet.as_view({"get": "list"}),
        name="day-pass-consumptions",
    ),
    path("billing/licences/", billing_api.LicenceReportView.as_view(), name="licences"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("tickets/", UnifiedQueueView.as_view(), name="unified-queue"),
    path("sla/simulate/", SimulateView.as_view(), name="sla-simulate"),
    path("customers/<slug:slug>/sla/reapply/", SlaReapplyView.as_view(), name="sla-reapply"),
    path("customers/<slug:slug>/tickets/<str:ticket_pk>/", include(ticket_urls)),
    path("customers/<slug:slug>/cis/<str:ci_pk>/", include(ci_urls)),
    path("customers/<slug:slug>/", include(customer_router.urls)),
    path("", include(router.urls)),
]
