"""API routes of a customer's people (mounted under ``customers/<slug>/``)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from people.api import CustomerUserViewSet

router = SimpleRouter()
router.register("users", CustomerUserViewSet, basename="customer-user")

customer_urlpatterns = router.urls
