"""Base classes for every API view: who is calling (audit), what every call must pass
(``accounts.gates``: the day pass), who the route exists for (``ProviderAccess``, the provider
policy of ``tenants.access``) and, under ``customers/<slug>/``, the customer gate
(``CustomerScopedMixin``: the only code that resolves a customer from the URL and enters its
schema, through ``tenants.schema.customer_schema`` like every page and task)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, cast

from django.http import HttpRequest, QueryDict
from rest_framework import permissions, viewsets
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.gates import api_call_checks
from accounts.models import User
from audit import context as audit_context
from audit.middleware import client_ip
from audit.models import Channel
from tenants.access import CustomerAccess, Reach, customer_access, provider_access
from tenants.schema import customer_schema

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

SAFE_METHODS = permissions.SAFE_METHODS


class ProviderAccess(permissions.BasePermission):
    """The provider policy (``tenants.access.provider_access``) for API views: a view declares
    who it exists for with ``read_reach`` (safe methods) and ``write_reach`` (the others). On
    detail routes the write check waits for the object (``has_object_permission``), so a write
    to a foreign or unknown object is the same 404 as a read."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        writes = request.method not in SAFE_METHODS and not getattr(view, "detail", False)
        _check(request, view, writes=writes)
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        _check(request, view, writes=request.method not in SAFE_METHODS)
        return True


def _check(request: Request, view: APIView, *, writes: bool) -> None:
    reach: Reach = getattr(view, "write_reach" if writes else "read_reach", Reach.SIGNED_IN)
    provider_access(cast(User, request.user), reach, refusal=getattr(view, "refusal", None))


def without_empty_values(params: QueryDict) -> QueryDict:
    """``?status=&page=2`` is ``?page=2``: an empty query parameter is one not given (what an
    HTML form sends for a field left blank), for every API view alike."""
    if all(value for name in params for value in params.getlist(name)):
        return params
    kept = QueryDict(mutable=True)
    for name in params:
        for value in params.getlist(name):
            if value:
                kept.appendlist(name, value)
    kept._mutable = False
    return kept


class AuditedMixin:
    """After DRF authenticates the caller, attribute every write to them on channel ``api`` and
    run the checks every call must pass (``accounts.gates``; billing's day pass answers 402 or
    adds ``X-Day-Pass: consumed``). Views that are not agent access (signing in, the explicit
    day-pass activation) set ``gates_exempt``.

    ``read_reach``/``write_reach`` say who the view exists for (``ProviderAccess``)."""

    gates_exempt = False
    read_reach = Reach.SIGNED_IN
    write_reach = Reach.SIGNED_IN
    refusal: str | None = None
    permission_classes: Sequence[_PermissionClass] = [permissions.IsAuthenticated, ProviderAccess]
    gate_headers: dict[str, str]
    # Why a method is not offered, for the sentence of its 405 (``{"DELETE": "Close it instead."}``).
    method_hints: dict[str, str] = {}
    methods_before_access = True

    @property
    def caller(self) -> User:
        """The signed-in person making the call (the views run only after authentication)."""
        return cast(User, self.request.user)  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.gate_headers = {}
        method = str(request.method).lower()
        missing = method not in self.http_method_names or not hasattr(self, method)  # type: ignore[attr-defined]
        if missing and self.methods_before_access:
            # A method the resource does not have is 405 whoever asks, before who may see what:
            # the methods are in the schema, so this tells nothing a 404 would hide.
            self.http_method_not_allowed(request)
        request._request.GET = without_empty_values(request._request.GET)  # type: ignore[assignment]
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        user = request.user
        if user is not None and user.is_authenticated:
            audit_context.set_request_actor(
                user, channel=Channel.API, remote_addr=client_ip(request._request)
            )
            if not self.gates_exempt:
                self.gate_headers = api_call_checks(user)

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        method = str(request.method)
        raise MethodNotAllowed(method, detail=self.method_hints.get(method))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        for name, value in getattr(self, "gate_headers", {}).items():
            response[name] = value
        return response


class JsonErrorsMixin:
    """For views that render something else (the schema as YAML, the docs page as HTML): their
    errors, too, are the envelope in JSON."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if response.status_code >= 400 and isinstance(response.data, dict) and "code" in response.data:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


class ApiView(AuditedMixin, APIView):
    pass


class ApiViewSet(AuditedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    lookup_value_regex = "[0-9]+"


class CustomerScopedMixin(AuditedMixin):
    """Resolve ``{slug}``, check the caller may see that customer (else 404), then who the view
    is for (``read_reach``/``write_reach``, the provider policy), the role it asks for and the
    occasional agent's ``scope`` (403s: the customer itself is visible to them), and run the
    rest of the request inside the customer's schema."""

    # The rest is checked in ``initial``, the customer first.
    permission_classes: Sequence[_PermissionClass] = [permissions.IsAuthenticated]
    customer_url_kwarg = "slug"
    # Anything of another customer is 404 first, an unsupported method included (the 405 follows
    # only once the caller may see the customer).
    methods_before_access = False
    # The part of a customer the view belongs to (accounts.models.Scope); unsafe methods write.
    scope = "tickets"
    access: CustomerAccess
    _schema: ExitStack

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        user = cast(User, request.user)
        self.access = customer_access(user, kwargs[self.customer_url_kwarg])
        writes = request.method not in SAFE_METHODS
        provider_access(user, self.write_reach if writes else self.read_reach, refusal=self.refusal)
        self.check_customer_role(request, self.access)
        self.access.require_scope(self.scope, write=request.method not in SAFE_METHODS)
        self._schema.enter_context(customer_schema(self.access.customer))

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        """Views refine this to ask for more than "may see the customer"."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        with ExitStack() as self._schema:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc, no-any-return]


class CustomerScopedViewSet(CustomerScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    lookup_value_regex = "[0-9]+"
