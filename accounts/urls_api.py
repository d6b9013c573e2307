"""API routes of identities: tokens, the caller, provider agents."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import AgentViewSet, AuthTokenView, MeView

router = SimpleRouter()
router.register("agents", AgentViewSet, basename="agent")

urlpatterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
