"""Console pages of the reports."""

from __future__ import annotations

from django.urls import path

from reports import console

urlpatterns = [
    path("reports/", console.overview, name="reports-overview"),
    path("customers/<slug:slug>/report/", console.service_report_page, name="console-service-report"),
    path(
        "customers/<slug:slug>/report/issue/",
        console.service_report_issue,
        name="console-service-report-issue",
    ),
    path(
        "customers/<slug:slug>/report/schedule/",
        console.service_report_schedule,
        name="console-service-report-schedule",
    ),
]
