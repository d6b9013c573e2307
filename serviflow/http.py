"""Typed requests: what authentication and the middleware put on a request, declared once so
that views need no ``# type: ignore`` (Healthchecks' ``AuthenticatedHttpRequest``).

- ``AuthenticatedHttpRequest``: a page behind sign-in: ``user`` is a ``User``, ``tenant`` the
  host's customer (the public tenant on the console), ``htmx`` what django-htmx found.
- ``ApiRequest``: an API call after DRF authenticated it: ``user`` is a ``User``, ``auth`` the
  API token (None for a browser session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from accounts.models import ApiToken, User
    from tenants.models import Customer


class AuthenticatedHttpRequest(HttpRequest):
    user: User
    tenant: Customer
    htmx: HtmxDetails


class ApiRequest(Request):
    user: User
    auth: ApiToken | None
