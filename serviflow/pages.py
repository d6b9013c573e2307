"""Base wiring for server-rendered pages, the counterpart of ``serviflow.api.views``.

``customer_page``: console pages under ``/customers/<slug>/``. It resolves the customer through
``tenants.access`` (a foreign or unknown one is a 404), requires agent-level access, checks the
occasional agent's scope the page belongs to (403 naming it) and runs the view inside the
customer's schema. ``portal_page``: portal pages, already inside the
host's schema (the host middleware switched it and allows only that customer's people).
Views receive the ``CustomerAccess`` and never switch schemas or check membership themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, overload

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse

from accounts.models import User
from core.errors import RuleViolation
from tenants.access import CustomerAccess, customer_access
from tenants.schema import customer_schema

# What a page catches around a workflow call and shows with ``problem_of``.
WORKFLOW_ERRORS = (ValidationError, PermissionDenied, RuleViolation)

AccessView = Callable[Concatenate[HttpRequest, CustomerAccess, ...], HttpResponse]
SAFE_METHODS = ("GET", "HEAD")


def console_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Console pages across customers (the queue, the customer list): console users only."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        if not user.may_use_console:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@overload
def customer_page(
    view: AccessView, *, scope: str = ..., writes: bool = ...
) -> Callable[..., HttpResponse]: ...


@overload
def customer_page(
    view: None = None, *, scope: str = ..., writes: bool = ...
) -> Callable[[AccessView], Callable[..., HttpResponse]]: ...


def customer_page(
    view: AccessView | None = None, *, scope: str = "tickets", writes: bool = False
) -> Callable[..., HttpResponse] | Callable[[AccessView], Callable[..., HttpResponse]]:
    """``@customer_page`` or ``@customer_page(scope="cmdb")``: the page belongs to ``scope``
    (``tenants.access.SCOPE_NAMES``); any method but GET/HEAD is a write, and so is every method
    with ``writes`` (pages that only exist to change something: the new and edit forms)."""

    def decorate(view: AccessView) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            user: User = request.user  # type: ignore[assignment]
            access = customer_access(user, slug)
            if not access.works_tickets:
                raise Http404
            access.require_scope(scope, write=writes or request.method not in SAFE_METHODS)
            with customer_schema(access.customer):
                return view(request, access, *args, **kwargs)

        return wrapper

    return decorate if view is None else decorate(view)


def _provider_gate(
    view: Callable[..., HttpResponse], *, writes_need_admin: bool
) -> Callable[..., HttpResponse]:
    @console_page
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        if not user.is_provider_staff:
            raise Http404
        if writes_need_admin and request.method not in ("GET", "HEAD") and not user.is_provider_admin:
            raise PermissionDenied("Only provider admins can change the provider's configuration.")
        return view(request, *args, **kwargs)

    return wrapper


def provider_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The provider's configuration pages: provider staff only (anyone else: 404, the pages do
    not exist for them); changes (any method but GET/HEAD) only for provider admins (403)."""
    return _provider_gate(view, writes_need_admin=True)


def provider_tool_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Provider staff's tools that change nothing (the SLA simulator): any method, staff only."""
    return _provider_gate(view, writes_need_admin=False)


def provider_admin_customer_page(view: AccessView) -> Callable[..., HttpResponse]:
    """A provider admin's action on one customer (re-applying SLAs): ``customer_page``'s 404 for
    outsiders, 404 for the customer's own agents too, 403 for provider agents."""

    @wraps(view)
    def admins_only(request: HttpRequest, access: CustomerAccess, *args: Any, **kwargs: Any) -> HttpResponse:
        if not access.user.is_provider_staff:
            raise Http404
        if not access.user.is_provider_admin:
            raise PermissionDenied("Only provider admins can do this.")
        return view(request, access, *args, **kwargs)

    return customer_page(admins_only)


def portal_page(view: AccessView) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.is_customer or user.customer_id != tenant.pk:
            raise Http404
        return view(request, CustomerAccess(customer=tenant, user=user), *args, **kwargs)

    return wrapper


def problem_of(exc: Exception) -> tuple[int, list[str]]:
    """How a page shows a refused workflow call: the status and the sentences for the person."""
    if isinstance(exc, RuleViolation):
        return exc.status, [exc.detail]
    if isinstance(exc, PermissionDenied):
        return 403, [str(exc) or "You are not allowed to do that."]
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return 400, [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        return 400, list(exc.messages)
    raise exc
