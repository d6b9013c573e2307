"""API routes of the audit trail."""

from __future__ import annotations

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/", api.AuditEntryViewSet.as_view({"get": "list"}), name="audit-entries"),
    path("audit/verify/", api.VerifyView.as_view(), name="audit-verify"),
    path("audit/heads/", api.HeadsView.as_view(), name="audit-heads"),
    path("audit/access-review/", api.AccessReviewView.as_view(), name="audit-access-review"),
]

customer_urlpatterns = [
    path("audit/", api.CustomerAuditViewSet.as_view({"get": "list"}), name="customer-audit"),
]
