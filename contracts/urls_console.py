"""Console pages of a customer's contracts, prepaid ledgers and closed months."""

from __future__ import annotations

from django.urls import path

from contracts import console

urlpatterns = [
    path("customers/<slug:slug>/contracts/", console.contract_list, name="console-contracts"),
    path(
        "customers/<slug:slug>/contracts/<int:contract_id>/", console.contract_detail, name="console-contract"
    ),
    path("customers/<slug:slug>/months/close/", console.month_close, name="console-month-close"),
]
