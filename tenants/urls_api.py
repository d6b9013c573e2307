"""API routes of customers themselves (``customers/``, ``customers/<slug>/``)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from tenants.api import CustomerViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
