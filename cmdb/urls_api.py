"""API routes of the CMDB, all customer-scoped (mounted under ``customers/<slug>/``)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from cmdb.api import CiRelationViewSet, CiViewSet

router = SimpleRouter()
router.register("cis", CiViewSet, basename="ci")

ci_urlpatterns = [
    path(
        "relations/",
        CiRelationViewSet.as_view({"get": "list", "post": "create"}),
        name="ci-relations",
    ),
    path("relations/<int:pk>/", CiRelationViewSet.as_view({"delete": "destroy"}), name="ci-relation"),
]

customer_urlpatterns = [
    path("cis/<int:ci_pk>/", include(ci_urlpatterns)),
    *router.urls,
]
