"""Console pages of the CMDB: a customer's CIs, a CI's page, its forms and relations."""

from __future__ import annotations

from django.urls import path

from cmdb import console

urlpatterns = [
    path("customers/<slug:slug>/cis/", console.ci_list, name="console-cis"),
    path("customers/<slug:slug>/cis/new/", console.ci_new, name="console-ci-new"),
    path("customers/<slug:slug>/cis/<int:ci_id>/", console.ci_detail, name="console-ci"),
    path("customers/<slug:slug>/cis/<int:ci_id>/edit/", console.ci_edit, name="console-ci-edit"),
    path("customers/<slug:slug>/cis/<int:ci_id>/delete/", console.ci_delete, name="console-ci-delete"),
    path(
        "customers/<slug:slug>/cis/<int:ci_id>/relations/",
        console.relation_add,
        name="console-ci-relation-add",
    ),
    path(
        "customers/<slug:slug>/cis/<int:ci_id>/relations/<int:relation_id>/delete/",
        console.relation_delete,
        name="console-ci-relation-delete",
    ),
]
