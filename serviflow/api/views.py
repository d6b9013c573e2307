"""Base classes for every API view. Customer-scoped views inherit ``CustomerScopedMixin``:
it is the only code that resolves a customer from the URL and switches the schema."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from audit import context as audit_context
from audit.middleware import client_ip
from audit.models import Channel
from billing.services import PassUse, api_day_pass
from tenants.access import CustomerAccess, customer_access
from tenants.schema import tenant_connection


class AuditedMixin:
    """After DRF authenticates the caller, attribute every write to them on channel ``api``, and
    pass every call through the day-pass check: an occasional agent's call uses their pass for
    the day, consumes one (``X-Day-Pass: consumed``) or is refused with 402 before the view runs.
    Views that must not take a pass (signing in, the explicit activation) set ``day_pass_exempt``."""

    day_pass_exempt = False
    day_pass: PassUse | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        user = request.user
        if user is not None and user.is_authenticated:
            audit_context.set_request_actor(
                user,
                channel=Channel.API,
                remote_addr=client_ip(request._request),  # type: ignore[arg-type]
            )
            if not self.day_pass_exempt:
                self.day_pass = api_day_pass(user)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if self.day_pass is not None and self.day_pass.consumed:
            response["X-Day-Pass"] = "consumed"
        return response


class ApiView(AuditedMixin, APIView):
    pass


class ApiViewSet(AuditedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    pass


class CustomerScopedMixin(AuditedMixin):
    """Resolve ``{slug}``, check the caller may see that customer (else 404), check the role the
    view asks for and the occasional agent's ``scope`` (else 403), and run the rest of the
    request inside the customer's schema."""

    customer_url_kwarg = "slug"
    # The part of a customer the view belongs to (tenants.access.SCOPE_NAMES); unsafe methods write.
    scope = "tickets"
    access: CustomerAccess

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        user: User = request.user  # type: ignore[assignment]
        self.access = customer_access(user, kwargs[self.customer_url_kwarg])
        self.check_customer_role(request, self.access)
        self.access.require_scope(self.scope, write=request.method not in ("GET", "HEAD", "OPTIONS"))
        tenant_connection.set_tenant(self.access.customer)

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        """Views refine this to ask for more than "may see the customer"."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return]
        finally:
            tenant_connection.set_schema_to_public()


class CustomerScopedViewSet(CustomerScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    pass
