"""Base wiring for server-rendered pages, the counterpart of ``serviflow.api.views``.

``provider_page``: the console's own pages (the queue, the provider's configuration, billing):
who a page exists for is ``tenants.access.provider_access`` with a ``Reach`` for reads and one
for changes, as in the API. ``customer_page``: console pages under ``/customers/<slug>/``. It
resolves the customer through ``tenants.access`` (a foreign or unknown one is a 404), requires
agent-level access, checks the page's reach and the occasional agent's scope (403 naming it)
and runs the view inside the customer's schema (``tenants.schema.customer_schema``, as the API
does). ``portal_page``: portal pages, already inside the host's schema (the host middleware
switched it and allows only that customer's people).
Views receive the ``CustomerAccess`` and never switch schemas or check membership themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, overload

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import RuleViolation
from serviflow.filters import FilterSet, filtered
from serviflow.http import AuthenticatedHttpRequest
from tenants.access import CustomerAccess, Reach, customer_access, provider_access
from tenants.schema import customer_schema

# What a page catches around a workflow call and shows with ``problem_of``.
WORKFLOW_ERRORS = (ValidationError, PermissionDenied, RuleViolation)

AccessView = Callable[Concatenate[AuthenticatedHttpRequest, CustomerAccess, ...], HttpResponse]
PageView = Callable[..., HttpResponse]
SAFE_METHODS = ("GET", "HEAD")
CONFIGURATION_REFUSAL = "Only provider admins can change the provider's configuration."


def _reach(request: HttpRequest, read: Reach, write: Reach, writes: bool) -> Reach:
    return write if writes or request.method not in SAFE_METHODS else read


@overload
def provider_page(
    view: PageView, *, read: Reach = ..., write: Reach = ..., refusal: str = ...
) -> PageView: ...


@overload
def provider_page(
    view: None = None, *, read: Reach = ..., write: Reach = ..., refusal: str = ...
) -> Callable[[PageView], PageView]: ...


def provider_page(
    view: PageView | None = None,
    *,
    read: Reach = Reach.STAFF,
    write: Reach = Reach.ADMIN,
    refusal: str = CONFIGURATION_REFUSAL,
) -> PageView | Callable[[PageView], PageView]:
    """``@provider_page`` (the provider's configuration: staff read, admins change) or
    ``@provider_page(read=Reach.CONSOLE, write=Reach.CONSOLE)`` and so on."""

    def decorate(view: PageView) -> PageView:
        @login_required
        @wraps(view)
        def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            provider_access(request.user, _reach(request, read, write, False), refusal=refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate if view is None else decorate(view)


@overload
def customer_page(
    view: AccessView, *, scope: str = ..., writes: bool = ..., read: Reach = ..., write: Reach = ...
) -> PageView: ...


@overload
def customer_page(
    view: None = None, *, scope: str = ..., writes: bool = ..., read: Reach = ..., write: Reach = ...
) -> Callable[[AccessView], PageView]: ...


def customer_page(
    view: AccessView | None = None,
    *,
    scope: str = "tickets",
    writes: bool = False,
    read: Reach = Reach.CONSOLE,
    write: Reach = Reach.CONSOLE,
) -> PageView | Callable[[AccessView], PageView]:
    """``@customer_page`` or ``@customer_page(scope="cmdb")``: the page belongs to ``scope``
    (``accounts.models.Scope``); any method but GET/HEAD is a write, and so is every method
    with ``writes`` (pages that only exist to change something: the new and edit forms).
    ``read``/``write`` narrow who the page is for (a provider admins' action: ``Reach.ADMIN``)."""

    def decorate(view: AccessView) -> PageView:
        @login_required
        @wraps(view)
        def wrapper(request: AuthenticatedHttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            access = customer_access(request.user, slug)
            if not access.works_tickets:
                raise Http404
            provider_access(request.user, _reach(request, read, write, writes))
            access.require_scope(scope, write=writes or request.method not in SAFE_METHODS)
            with customer_schema(access.customer):
                return view(request, access, *args, **kwargs)

        return wrapper

    return decorate if view is None else decorate(view)


def portal_page(view: AccessView) -> PageView:
    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.is_customer or request.user.customer_id != tenant.pk:
            raise Http404
        return view(request, CustomerAccess(customer=tenant, user=request.user), *args, **kwargs)

    return wrapper


class NextForm(forms.Form):
    next = forms.CharField(required=False, max_length=2000)


def next_target(request: HttpRequest) -> str:
    """Where to send someone back to after a page in between (signing in, the day-pass Proceed):
    the ``next`` of the post or the query string, if it is a path on this host; else "/"."""
    form = NextForm(request.POST if request.method == "POST" and "next" in request.POST else request.GET)
    target = (form.cleaned_data["next"] if form.is_valid() else "") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return str(target)


def cleaned(form: forms.Form) -> dict[str, Any]:
    """A bound form's values, or its errors as a ValidationError for ``problem_of`` (so a page
    shows a bad input the way it shows a refused workflow: "field: message")."""
    if not form.is_valid():
        raise ValidationError({name: list(messages) for name, messages in form.errors.items()})
    return form.cleaned_data


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


def refused(request: HttpRequest, exc: Exception) -> int:
    """``problem_of`` as flash messages (a page that shows its refusals at the top): the status."""
    status, problems = problem_of(exc)
    for problem in problems:
        messages.error(request, problem)
    return status


def page_of(request: HttpRequest, rows: Any, *, page_size: int) -> Page[Any]:
    """The page of ``rows`` the query string's ``page`` asks for: Django's paginator reads it, and
    anything that is not a page number (``²``, ``last``, ``-1``, too large) gives the nearest page.
    Every paged console and portal list reads its page here."""
    return Paginator(rows, page_size).get_page(request.GET.get("page"))


def filtered_page(
    request: AuthenticatedHttpRequest,
    filterset_class: type[FilterSet],
    rows: QuerySet[Any],
    *,
    page_size: int,
) -> tuple[dict[str, Any], int]:
    """A list page's rows: ``rows`` filtered by the query string (``serviflow.filters``) and
    paged (a page number that is not one gives the nearest page). The context (``page``, the
    ``query`` without the page for the pager's links, ``errors``) and the status: 400 naming a
    bad filter."""
    params = request.GET
    try:
        found = filtered(filterset_class, params, rows, user=request.user)
        page = page_of(request, found, page_size=page_size)
    except ValidationError as exc:
        status, errors = problem_of(exc)
        return {"page": None, "errors": errors}, status
    query = params.copy()
    query.pop("page", None)
    return {"page": page, "query": query.urlencode(), "errors": []}, 200
