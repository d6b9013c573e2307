"""Console pages of the audit trail (provider admins)."""

from __future__ import annotations

from django.urls import path

from audit import console

urlpatterns = [
    path("audit/", console.entries, name="audit-entries"),
    path("audit/entries.csv", console.entries_csv, name="audit-entries-csv"),
    path("audit/entries.json", console.entries_json, name="audit-entries-json"),
    path("audit/access-review/", console.access_review, name="audit-access-review"),
    path("audit/access-review.csv", console.access_review_csv, name="audit-access-review-csv"),
]
