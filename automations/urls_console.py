"""Console pages of automation rules: the provider-wide ones and each customer's."""

from __future__ import annotations

from django.urls import path

from automations import console

urlpatterns = [
    path("automations/", console.provider_rules, name="console-automations"),
    path("automations/<int:rule_id>/", console.provider_rule, name="console-automation"),
    path("automations/<int:rule_id>/delete/", console.provider_rule_delete, name="console-automation-delete"),
    path(
        "automations/<int:rule_id>/dry-run/", console.provider_rule_dry_run, name="console-automation-dry-run"
    ),
    path("customers/<slug:slug>/automations/", console.customer_rules, name="console-customer-automations"),
    path(
        "customers/<slug:slug>/automations/<int:customer_rule_id>/",
        console.customer_rule,
        name="console-customer-automation",
    ),
    path(
        "customers/<slug:slug>/automations/<int:customer_rule_id>/delete/",
        console.customer_rule_delete,
        name="console-customer-automation-delete",
    ),
    path(
        "customers/<slug:slug>/automations/<int:customer_rule_id>/dry-run/",
        console.customer_rule_dry_run,
        name="console-customer-automation-dry-run",
    ),
]
