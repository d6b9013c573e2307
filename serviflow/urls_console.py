"""URLs of the console host (BASE_DOMAIN): the agents' console, the API, the health check."""

from __future__ import annotations

from django.urls import include, path

from accounts import views as account_views
from serviflow import views
from tenants import views as tenant_views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include(("serviflow.urls_api", "api"))),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("profile/", account_views.profile, name="profile"),
    path("profile/tokens/<int:token_id>/revoke/", account_views.token_revoke_view, name="token-revoke"),
    path("activate/<str:uidb64>/<str:token>/", account_views.activate, name="activate"),
    path("", tenant_views.console_home, name="home"),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
