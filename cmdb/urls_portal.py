"""Portal pages of the CMDB: the customer's equipment, read-only."""

from __future__ import annotations

from django.urls import path

from cmdb import portal

urlpatterns = [
    path("cis/", portal.ci_list, name="portal-cis"),
    path("cis/<int:ci_id>/", portal.ci_detail, name="portal-ci"),
]
