"""URLs of the console host (BASE_DOMAIN): every app's console pages, the API, the health check.
Each app owns its pages' routes (``<app>/urls_console.py``)."""

from __future__ import annotations

from django.urls import include, path, re_path

from serviflow import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include(("serviflow.urls_api", "api"))),
    re_path(r"^api/", views.api_not_found, name="api-not-found"),  # any other /api/ URL: the envelope
    path("", include("accounts.urls_console")),
    path("", include("billing.urls_console")),
    path("", include("notifications.urls_console")),
    path("", include("tenants.urls_console")),
    path("", include("people.urls_console")),
    path("", include("tickets.urls_console")),
    path("", include("cmdb.urls_console")),
    path("", include("sla.urls_console")),
    path("", include("imports.urls_console")),
    path("", include("mail.urls_console")),
    path("", include("audit.urls_console")),
    path("", include("contracts.urls_console")),
    path("", include("reports.urls_console")),
    path("", include("automations.urls_console")),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
