from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from accounts.api import AgentViewSet, AuthTokenView, MeView
from people.api import CustomerUserViewSet
from tenants.api import CustomerViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("agents", AgentViewSet, basename="agent")

# Everything under customers/{slug}/ is customer-scoped (CustomerScopedViewSet).
customer_router = SimpleRouter()
customer_router.register("users", CustomerUserViewSet, basename="customer-user")

urlpatterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("customers/<slug:slug>/", include(customer_router.urls)),
    path("", include(router.urls)),
]
