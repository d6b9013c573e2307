"""API routes of the reports: the monthly figures of every customer, and each customer's service
report of a month (its issuing included)."""

from __future__ import annotations

from django.urls import path

from reports.api import CustomerFiguresView, ServiceReportViewSet

urlpatterns = [
    path("reports/customers/", CustomerFiguresView.as_view(), name="report-figures"),
    path(
        "reports/customers/<slug:slug>/<str:month>/",
        ServiceReportViewSet.as_view({"get": "retrieve"}),
        name="service-report",
    ),
    path(
        "reports/customers/<slug:slug>/<str:month>/issue/",
        ServiceReportViewSet.as_view({"post": "issue"}),
        name="service-report-issue",
    ),
]
