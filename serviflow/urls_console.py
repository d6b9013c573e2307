"""URLs of the console host (BASE_DOMAIN): the agents' console, the API, the health check."""

from __future__ import annotations

from django.urls import include, path

from accounts import console as agent_console
from accounts import views as account_views
from billing import console as billing_console
from billing import proceed as day_pass_views
from cmdb import console as cmdb_console
from notifications import views as notification_views
from serviflow import views
from sla import console as sla_console
from sla import tools as sla_tools
from tickets import console

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include(("serviflow.urls_api", "api"))),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("profile/", account_views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", account_views.token_revoke_view, name="token-revoke"),
    path("activate/<str:uidb64>/<str:token>/", account_views.activate, name="activate"),
    path("day-pass/", day_pass_views.day_pass, name="day-pass"),
    path("notifications/", notification_views.feed, name="notifications"),
    path("notifications/read-all/", notification_views.read_all, name="notifications-read-all"),
    path("customers/", console.customers, name="console-customers"),
    path("customers/<slug:slug>/", console.customer_detail, name="console-customer"),
    path("customers/<slug:slug>/tickets/new/", console.ticket_new, name="console-ticket-new"),
    path("customers/<slug:slug>/tickets/<int:ticket_id>/", console.ticket_detail, name="console-ticket"),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/change/",
        console.ticket_change,
        name="console-ticket-change",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/reply/",
        console.ticket_reply,
        name="console-ticket-reply",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        console.attachment_download,
        name="console-attachment",
    ),
    path("customers/<slug:slug>/cis/", cmdb_console.ci_list, name="console-cis"),
    path("customers/<slug:slug>/cis/new/", cmdb_console.ci_new, name="console-ci-new"),
    path("customers/<slug:slug>/cis/<int:ci_id>/", cmdb_console.ci_detail, name="console-ci"),
    path("customers/<slug:slug>/cis/<int:ci_id>/edit/", cmdb_console.ci_edit, name="console-ci-edit"),
    path("customers/<slug:slug>/cis/<int:ci_id>/delete/", cmdb_console.ci_delete, name="console-ci-delete"),
    path(
        "customers/<slug:slug>/cis/<int:ci_id>/relations/",
        cmdb_console.relation_add,
        name="console-ci-relation-add",
    ),
    path(
        "customers/<slug:slug>/cis/<int:ci_id>/relations/<int:relation_id>/delete/",
        cmdb_console.relation_delete,
        name="console-ci-relation-delete",
    ),
    path("customers/<slug:slug>/sla/reapply/", sla_tools.reapply, name="console-sla-reapply"),
    path("sla/simulator/", sla_tools.simulator, name="console-sla-simulator"),
    path("agents/", agent_console.agent_list, name="console-agents"),
    path("agents/new/", agent_console.agent_new, name="console-agent-new"),
    path("agents/<int:agent_id>/", agent_console.agent_detail, name="console-agent"),
    path(
        "agents/<int:agent_id>/deactivate/", agent_console.agent_deactivate, name="console-agent-deactivate"
    ),
    path(
        "agents/<int:agent_id>/reactivate/", agent_console.agent_reactivate, name="console-agent-reactivate"
    ),
    path("billing/day-passes/", billing_console.day_passes, name="billing-day-passes"),
    path("billing/day-passes/buy/", billing_console.day_passes_buy, name="billing-day-passes-buy"),
    path("billing/day-passes/log.csv", billing_console.day_passes_csv, name="billing-day-passes-csv"),
    path("billing/licences/", billing_console.licences, name="billing-licences"),
    path("sla/", sla_console.sla_home, name="sla"),
    path("sla/policies/", sla_console.policy_list, name="sla-policies"),
    path("sla/policies/new/", sla_console.policy_new, name="sla-policy-new"),
    path("sla/policies/<int:policy_id>/", sla_console.policy_detail, name="sla-policy"),
    path("sla/policies/<int:policy_id>/delete/", sla_console.policy_delete, name="sla-policy-delete"),
    path("sla/profiles/", sla_console.profile_list, name="sla-profiles"),
    path("sla/profiles/new/", sla_console.profile_new, name="sla-profile-new"),
    path("sla/profiles/preview/", sla_console.profile_preview, name="sla-profile-preview"),
    path("sla/profiles/<int:profile_id>/", sla_console.profile_detail, name="sla-profile"),
    path("sla/profiles/<int:profile_id>/fill-holidays/", sla_console.profile_fill, name="sla-profile-fill"),
    path("sla/profiles/<int:profile_id>/delete/", sla_console.profile_delete, name="sla-profile-delete"),
    path("", console.queue, name="home"),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
