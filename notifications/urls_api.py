"""API routes of the caller's in-app notifications and preferences, the provider-wide
notification rules, and (``customer_urlpatterns``, mounted under ``customers/<slug>/``) a
customer's rules and their preview."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications.api import CustomerRuleViewSet, NotificationViewSet, PreferenceView, RuleViewSet

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

_DETAIL: dict[str, Any] = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}

urlpatterns = [
    *router.urls,
    path("me/notification-preferences/", PreferenceView.as_view(), name="notification-preferences"),
    path(
        "notification-rules/",
        RuleViewSet.as_view({"get": "list", "post": "create"}),
        name="notification-rules",
    ),
    path("notification-rules/<int:pk>/", RuleViewSet.as_view(_DETAIL), name="notification-rule"),
]

customer_urlpatterns = [
    path(
        "notification-rules/",
        CustomerRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="customer-notification-rules",
    ),
    path(
        "notification-rules/preview/",
        CustomerRuleViewSet.as_view({"get": "preview"}),
        name="customer-notification-rules-preview",
    ),
    path(
        "notification-rules/<int:pk>/",
        CustomerRuleViewSet.as_view(_DETAIL),
        name="customer-notification-rule",
    ),
]
