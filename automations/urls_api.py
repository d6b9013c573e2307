"""API routes of automation rules: the provider-wide ones and, per customer
(``customer_urlpatterns``, mounted under ``customers/<slug>/``), the customer's."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from automations.api import CustomerRuleViewSet, ProviderRuleViewSet

router = SimpleRouter()
router.register("automations", ProviderRuleViewSet, basename="automation")

customer_urlpatterns = [
    path(
        "automations/",
        CustomerRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="customer-automations",
    ),
    path(
        "automations/<int:pk>/",
        CustomerRuleViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="customer-automation",
    ),
    path(
        "automations/<int:pk>/dry-run/",
        CustomerRuleViewSet.as_view({"post": "dry_run"}),
        name="customer-automation-dry-run",
    ),
]

urlpatterns = [*router.urls]
