from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django_tenants.middleware.main import TenantMainMiddleware

from core.parsers import NUL_REFUSED, json_nul_field, json_problem
from serviflow.views import TOO_LARGE, error_response
from tenants.access import may_sign_in_on_host
from tenants.hosts import customer_for_host
from tenants.models import CustomerKind
from tenants.schema import public_schema_restore


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
            public_schema_restore()

    def get_tenant(self, domain_model: Any, hostname: str) -> Any:
        tenant = customer_for_host(hostname)
        if tenant.kind == CustomerKind.TEMPLATE or (
            tenant.kind == CustomerKind.CUSTOMER and not tenant.is_active
        ):
            raise domain_model.DoesNotExist
        return tenant

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> Any:
        raise Http404("Unknown host")


class ContentSecurityPolicyMiddleware:
    """``Content-Security-Policy`` (``settings.CONTENT_SECURITY_POLICY``) on every HTML response:
    the console, the portals, the API docs page and the error pages alike."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


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


class InputGuardMiddleware:
    """One refusal, for every request, of input nothing downstream can take: a NUL character in
    the path, a query parameter or a form field (PostgreSQL cannot store one), and JSON bodies
    nested deeper than ``core.parsers.MAX_JSON_DEPTH`` or holding a NUL (a parser would recurse
    that deep; the database would refuse it). Answered 400 naming the input, the API's envelope
    under /api/ (an oversized body too, code ``bad_request``). Everything else is the forms' and
    serializers' job."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            problem = _input_problem(request)
        except RequestDataTooBig:
            return error_response(request, 400, "bad_request", TOO_LARGE)
        except (TooManyFieldsSent, TooManyFilesSent, MultiPartParserError) as exc:
            return error_response(request, 400, "bad_request", str(exc) or "The form could not be read.")
        if problem is not None:
            field, message = problem
            return error_response(
                request, 400, "invalid", f"Invalid input. {field}: {message}", {field: [message]}
            )
        return self.get_response(request)


def _input_problem(request: HttpRequest) -> tuple[str, str] | None:
    """(input name, what is wrong) for the first unacceptable input, or None."""
    nul = NUL_REFUSED
    if "\x00" in request.path:
        return "path", nul
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "") or "query", nul
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        problem = json_problem(request.body)
        if problem is None:
            return None
        return (json_nul_field(request.body) if problem == NUL_REFUSED else "body", problem)
    if content_type == "application/x-www-form-urlencoded" or (
        content_type == "multipart/form-data" and request.method == "POST"
    ):
        for name, values in request.POST.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name.replace("\x00", "") or "form", nul
        for name, files in request.FILES.lists():
            if any("\x00" in (upload.name or "") for upload in files):
                return name, "A file name may not contain null characters."
    return None
