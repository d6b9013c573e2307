"""API routes of contracts and time (``customer_urlpatterns``, mounted under ``customers/<slug>/``;
a ticket's time entries under ``tickets/<id>/``)."""

from __future__ import annotations

from django.urls import path

from contracts.api import ContractViewSet, LedgerViewSet, MonthCloseViewSet, TimeEntryViewSet

customer_urlpatterns = [
    path("contracts/", ContractViewSet.as_view({"get": "list", "post": "create"}), name="contracts"),
    path(
        "contracts/<int:pk>/",
        ContractViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"}),
        name="contract-detail",
    ),
    path(
        "contracts/<int:contract_pk>/ledger/",
        LedgerViewSet.as_view({"get": "retrieve", "post": "create"}),
        name="contract-ledger",
    ),
    path("months/<str:month>/close/", MonthCloseViewSet.as_view({"post": "create"}), name="month-close"),
    path(
        "tickets/<int:ticket_pk>/time-entries/",
        TimeEntryViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-time-entries",
    ),
]
