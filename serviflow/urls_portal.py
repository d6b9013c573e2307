"""URLs of a customer's portal host (<slug>.BASE_DOMAIN), inside that customer's schema."""

from __future__ import annotations

from django.urls import path

from accounts import views as account_views
from tenants import views as tenant_views

urlpatterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("profile/", account_views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", account_views.token_revoke_view, name="token-revoke"),
    path("activate/<str:uidb64>/<str:token>/", account_views.activate, name="activate"),
    path("", tenant_views.portal_home, name="home"),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
