"""Console pages of customers: the list, the new-customer wizard, edit, archive and restore."""

from __future__ import annotations

from django.urls import path

from tenants import console

urlpatterns = [
    path("customers/", console.customer_list, name="console-customers"),
    # The wizard's steps are separate routes (no path argument): each is its own page.
    path("onboarding/", console.onboarding_step, {"step": "customer"}, name="console-onboarding-customer"),
    path("onboarding/hours/", console.onboarding_step, {"step": "hours"}, name="console-onboarding-hours"),
    path("onboarding/sla/", console.onboarding_step, {"step": "sla"}, name="console-onboarding-sla"),
    path("onboarding/users/", console.onboarding_step, {"step": "users"}, name="console-onboarding-users"),
    path("onboarding/summary/", console.onboarding_summary, name="console-onboarding-summary"),
    path("onboarding/cancel/", console.onboarding_cancel, name="console-onboarding-cancel"),
    path("customers/<slug:slug>/edit/", console.customer_edit, name="console-customer-edit"),
    path("customers/<slug:slug>/archive/", console.customer_archive_page, name="console-customer-archive"),
    path("customers/<slug:slug>/restore/", console.customer_restore_page, name="console-customer-restore"),
]
