"""API routes of day passes and licences."""

from __future__ import annotations

from django.urls import path

from billing import api

urlpatterns = [
    path("day-passes/", api.DayPassPoolView.as_view(), name="day-passes"),
    path("day-passes/activate/", api.ActivateView.as_view(), name="day-pass-activate"),
    path(
        "day-passes/purchases/",
        api.PurchaseViewSet.as_view({"get": "list", "post": "create"}),
        name="day-pass-purchases",
    ),
    path(
        "day-passes/consumptions/",
        api.ConsumptionViewSet.as_view({"get": "list"}),
        name="day-pass-consumptions",
    ),
    path("billing/licences/", api.LicenceReportView.as_view(), name="licences"),
]
