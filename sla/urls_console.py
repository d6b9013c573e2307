"""Console pages of the SLA: policies, business-hours profiles, the simulator, re-applying."""

from __future__ import annotations

from django.urls import path

from sla import console

urlpatterns = [
    path("sla/", console.sla_home, name="sla"),
    path("sla/policies/", console.policy_list, name="sla-policies"),
    path("sla/policies/new/", console.policy_new, name="sla-policy-new"),
    path("sla/policies/<int:policy_id>/", console.policy_detail, name="sla-policy"),
    path("sla/policies/<int:policy_id>/delete/", console.policy_delete, name="sla-policy-delete"),
    path("sla/profiles/", console.profile_list, name="sla-profiles"),
    path("sla/profiles/new/", console.profile_new, name="sla-profile-new"),
    path("sla/profiles/preview/", console.profile_preview, name="sla-profile-preview"),
    path("sla/profiles/<int:profile_id>/", console.profile_detail, name="sla-profile"),
    path("sla/profiles/<int:profile_id>/fill-holidays/", console.profile_fill, name="sla-profile-fill"),
    path("sla/profiles/<int:profile_id>/delete/", console.profile_delete, name="sla-profile-delete"),
    path("sla/simulator/", console.simulator, name="console-sla-simulator"),
    path("customers/<slug:slug>/sla/reapply/", console.reapply, name="console-sla-reapply"),
]
