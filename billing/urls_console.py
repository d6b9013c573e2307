"""Console pages of billing: the occasional agent's Proceed page, day passes and licences."""

from __future__ import annotations

from django.urls import path

from billing import console

urlpatterns = [
    path("day-pass/", console.day_pass, name="day-pass"),
    path("billing/day-passes/", console.day_passes, name="billing-day-passes"),
    path("billing/day-passes/buy/", console.day_passes_buy, name="billing-day-passes-buy"),
    path("billing/day-passes/log.csv", console.day_passes_csv, name="billing-day-passes-csv"),
    path("billing/licences/", console.licences, name="billing-licences"),
]
