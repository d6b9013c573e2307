"""URLs of a customer's portal host (<slug>.BASE_DOMAIN), inside that customer's schema."""

from __future__ import annotations

from django.urls import path

from accounts import views as account_views
from cmdb import portal as cmdb_portal
from notifications import views as notification_views
from tickets import portal

urlpatterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("profile/", account_views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", account_views.token_revoke_view, name="token-revoke"),
    path("activate/<str:uidb64>/<str:token>/", account_views.activate, name="activate"),
    path("notifications/", notification_views.feed, name="notifications"),
    path("notifications/read-all/", notification_views.read_all, name="notifications-read-all"),
    path("tickets/new/", portal.ticket_new, name="portal-ticket-new"),
    path("tickets/<int:ticket_id>/", portal.ticket_detail, name="portal-ticket"),
    path("tickets/<int:ticket_id>/reply/", portal.ticket_reply, name="portal-ticket-reply"),
    path("tickets/<int:ticket_id>/status/", portal.ticket_status, name="portal-ticket-status"),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        portal.attachment_download,
        name="portal-attachment",
    ),
    path("cis/", cmdb_portal.ci_list, name="portal-cis"),
    path("cis/<int:ci_id>/", cmdb_portal.ci_detail, name="portal-ci"),
    path("", portal.my_tickets, name="home"),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
