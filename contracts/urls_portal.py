"""Portal pages of the company's contracts (its admins)."""

from __future__ import annotations

from django.urls import path

from contracts import portal

urlpatterns = [path("contracts/", portal.contracts, name="portal-contracts")]
