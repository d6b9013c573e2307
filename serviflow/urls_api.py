"""The API (``/api/v1/`` on the console host): every app's API routes, and the schema.

Each app owns its routes (``<app>/urls_api.py``): ``urlpatterns`` at the top level and, for
what belongs to one customer, ``customer_urlpatterns`` mounted under ``customers/<slug>/``
(served through ``serviflow.api.views.CustomerScopedMixin``, the customer gate)."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import urls_api as accounts
from audit import urls_api as audit
from automations import urls_api as automations
from billing import urls_api as billing
from cmdb import urls_api as cmdb
from contracts import urls_api as contracts
from imports import urls_api as imports
from mail import urls_api as mail
from notifications import urls_api as notifications
from people import urls_api as people
from reports import urls_api as reports
from serviflow.api.views import JsonErrorsMixin
from sla import urls_api as sla
from tenants import urls_api as tenants
from tickets import urls_api as tickets


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    pass


class DocsView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Split: the page loads its init script from ?script, so it needs no inline script (CSP)."""


customer_urlpatterns = [
    *people.customer_urlpatterns,
    *tickets.customer_urlpatterns,
    *cmdb.customer_urlpatterns,
    *sla.customer_urlpatterns,
    *mail.customer_urlpatterns,
    *audit.customer_urlpatterns,
    *contracts.customer_urlpatterns,
    *notifications.customer_urlpatterns,
    *automations.customer_urlpatterns,
]

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"), name="docs"),
    path("customers/<slug:slug>/", include(customer_urlpatterns)),
    *accounts.urlpatterns,
    *audit.urlpatterns,
    *automations.urlpatterns,
    *billing.urlpatterns,
    *imports.urlpatterns,
    *mail.urlpatterns,
    *notifications.urlpatterns,
    *reports.urlpatterns,
    *sla.urlpatterns,
    *tenants.urlpatterns,
    *tickets.urlpatterns,
]
