from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.access import may_sign_in_on_host
from tenants.hosts import customer_for_host
from tenants.models import CustomerKind
from tenants.schema import tenant_connection


class TenantHostMiddleware(TenantMainMiddleware):
    """django-tenants' host → schema switch, which also refuses hosts of archived customers and
    of the provisioning template (neither has a portal)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Back to public when the request is done: nothing that runs after it on this
        # connection (signal handlers, the next test, a thread reusing it) inherits the schema.
        try:
            response: HttpResponse = super().__call__(request)
            return response
        finally:
            tenant_connection.set_schema_to_public()

    def get_tenant(self, domain_model: Any, hostname: str) -> Any:
        tenant = customer_for_host(hostname)
        if tenant.kind == CustomerKind.TEMPLATE or (
            tenant.kind == CustomerKind.CUSTOMER and not tenant.is_active
        ):
            raise domain_model.DoesNotExist
        return tenant

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> Any:
        raise Http404("Unknown host")


class HostAccessMiddleware:
    """A session is only good on the host it belongs to: a customer user's only on their own
    customer's portal, and only console users' on the console. Checked on every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not may_sign_in_on_host(user, getattr(request, "tenant", None)):
            logout(request)
            request.user = AnonymousUser()
        return self.get_response(request)


class UserTimezoneMiddleware:
    """Pages show times in the signed-in person's own time zone (stored and computed in UTC)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        try:
            zone = ZoneInfo(user.timezone) if user.is_authenticated else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
