"""Portal pages of the company's issued service reports (its admins)."""

from __future__ import annotations

from django.urls import path

from reports import portal

urlpatterns = [
    path("reports/", portal.reports, name="portal-reports"),
    path("reports/<str:month>/", portal.report, name="portal-report"),
    path("reports/<str:month>/report.pdf", portal.report_file, {"kind": "pdf"}, name="portal-report-pdf"),
    path("reports/<str:month>/report.csv", portal.report_file, {"kind": "csv"}, name="portal-report-csv"),
]
