"""URLs of a customer's portal host (<slug>.BASE_DOMAIN), inside that customer's schema. Each
app owns its pages' routes (``<app>/urls_portal.py``)."""

from __future__ import annotations

from django.urls import include, path, re_path

from serviflow import views

urlpatterns = [
    re_path(r"^api/", views.api_not_found, name="api-not-found"),  # the API is on the console host only
    path("", include("accounts.urls_portal")),
    path("", include("notifications.urls_portal")),
    path("", include("people.urls_portal")),
    path("", include("tickets.urls_portal")),
    path("", include("tickets.satisfaction.urls_portal")),
    path("", include("cmdb.urls_portal")),
    path("", include("audit.urls_portal")),
    path("", include("contracts.urls_portal")),
    path("", include("reports.urls_portal")),
]

handler400 = "serviflow.views.bad_request"
handler403 = "serviflow.views.permission_denied"
handler404 = "serviflow.views.page_not_found"
handler500 = "serviflow.views.server_error"
