"""Portal pages of the audit trail (the company's admins)."""

from __future__ import annotations

from django.urls import path

from audit import portal

urlpatterns = [
    path("audit/", portal.entries, name="portal-audit"),
    path("audit/entries.csv", portal.entries_csv, name="portal-audit-csv"),
    path("audit/entries.json", portal.entries_json, name="portal-audit-json"),
]
