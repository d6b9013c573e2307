"""API routes of the audit trail."""

from __future__ import annotations

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/", api.AuditEntryViewSet.as_view({"get": "list"}), name="audit-entries"),
]
