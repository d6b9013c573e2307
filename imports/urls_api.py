"""API routes of imports (``imports/``, ``imports/{id}/``, ``imports/{id}/retry/`` and the
templates)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from imports.api import ImportTemplateView, ImportViewSet
from imports.csvfile import KINDS

router = SimpleRouter()
router.register("imports", ImportViewSet, basename="import")

urlpatterns = [
    *(
        path(
            f"imports/templates/{kind}.csv",
            ImportTemplateView.as_view(kind=kind),
            name=f"import-template-{kind}",
        )
        for kind in KINDS
    ),
    *router.urls,
]
