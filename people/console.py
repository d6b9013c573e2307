"""Pages of a customer's users, in the console (provider staff and the customer's own agents,
``customer_page``) and, with ``people.portal``, in the portal (the customer's admins): the list
with each user's role, state and SLA override, invitation or creation with a password, the edit
form (name, email, role user/admin, time zone; the SLA override for provider staff only), and
deactivation and reactivation. Every change goes through ``people.services``, which keeps who
may do what (a customer's own people never grant agent access, set SLA overrides or touch an
agent-level account)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from core.parsers import zone_names
from people.forms import CustomerUserForm, StateForm
from people.models import CustomerUser
from people.services import CustomerUserChanges, customer_user_create, customer_user_update
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, customer_page, page_of, problem_of
from tenants.access import CustomerAccess

USERS_PAGE_SIZE = 50


@dataclass(frozen=True)
class Side:
    """Where the pages are: the console (under ``/customers/<slug>/``) or the portal."""

    name: str  # "console" or "portal": the templates' folder and the url names' prefix
    sets_passwords: bool

    def url(self, access: CustomerAccess, page: str, profile: CustomerUser | None = None) -> str:
        args: list[Any] = [access.customer.slug] if self.name == "console" else []
        if profile is not None:
            args.append(profile.pk)
        return reverse(f"{self.name}-{page}", args=args)


CONSOLE = Side(name="console", sets_passwords=True)


def profiles() -> QuerySet[CustomerUser]:
    return CustomerUser.objects.select_related("user", "sla_policy").order_by("user__name", "id")


def users_page(request: AuthenticatedHttpRequest, access: CustomerAccess, side: Side) -> HttpResponse:
    page = page_of(request, profiles(), page_size=USERS_PAGE_SIZE)
    context = {"customer": access.customer, "access": access, "page": page, "side": side.name}
    return render(request, "people/users.html", context)


def _user_form_page(
    request: AuthenticatedHttpRequest,
    access: CustomerAccess,
    side: Side,
    form: CustomerUserForm,
    profile: CustomerUser | None,
    status: int,
) -> HttpResponse:
    context = {
        "customer": access.customer,
        "access": access,
        "form": form,
        "profile": profile,
        "side": side.name,
        "is_self": profile is not None and profile.user_id == access.user.pk,
        "timezones": sorted(zone_names()),
    }
    return render(request, "people/user.html", context, status=status if form.errors else 200)


def _form(
    request: AuthenticatedHttpRequest, access: CustomerAccess, side: Side, profile: CustomerUser | None
) -> CustomerUserForm:
    return CustomerUserForm(
        request.POST or None,
        profile=profile,
        sets_policies=access.is_provider_staff,
        sets_passwords=side.sets_passwords,
    )


def user_form_page(
    request: AuthenticatedHttpRequest, access: CustomerAccess, side: Side, user_id: int | None
) -> HttpResponse:
    """The new user's form (``user_id`` None) or a user's edit form, and saving it."""
    profile = get_object_or_404(profiles(), pk=user_id) if user_id is not None else None
    form = _form(request, access, side, profile)
    status = 400
    if request.method == "POST" and form.is_valid():
        try:
            saved, done = _save(access, form, profile)
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
            status = problem_of(exc)[0]
            if profile is not None:  # the refused values were never saved
                profile = get_object_or_404(profiles(), pk=user_id)
        else:
            messages.success(request, done)
            return HttpResponseRedirect(side.url(access, "user", saved))
    return _user_form_page(request, access, side, form, profile, status)


def _save(
    access: CustomerAccess, form: CustomerUserForm, profile: CustomerUser | None
) -> tuple[CustomerUser, str]:
    """Create or change the user; the profile and what to tell the person who did it."""
    if profile is not None:
        customer_user_update(profile=profile, changes=form.changes(), by=access.user)
        return profile, f"{profile.user.name} saved."
    password = form.new_password()
    created = customer_user_create(
        customer=access.customer, fields=form.user_fields(), password=password, by=access.user
    )
    invited = "" if password else f" An invitation with an activation link goes to {created.user.email}."
    return created, f"{created.user.name} added.{invited}"


def user_state_change(
    request: AuthenticatedHttpRequest, access: CustomerAccess, side: Side, user_id: int
) -> HttpResponse:
    """Deactivate (sessions and API tokens end at once) or reactivate; nothing is deleted."""
    profile = get_object_or_404(profiles(), pk=user_id)
    form = StateForm(request.POST)
    active = form.is_valid() and form.cleaned_data["active"]
    try:
        if profile.user_id == access.user.pk:
            raise PermissionDenied("You cannot deactivate yourself.")
        customer_user_update(profile=profile, changes=CustomerUserChanges(is_active=active), by=access.user)
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
    else:
        done = "reactivated" if active else "deactivated: their sessions and API tokens have ended"
        messages.success(request, f"{profile.user.name} {done}.")
    return HttpResponseRedirect(side.url(access, "user", profile))


@require_safe
@customer_page
def user_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    return users_page(request, access, CONSOLE)


@customer_page(writes=True)
def user_new(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    return user_form_page(request, access, CONSOLE, None)


@customer_page
def user_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, user_id: int) -> HttpResponse:
    return user_form_page(request, access, CONSOLE, user_id)


@require_POST
@customer_page
def user_state(request: AuthenticatedHttpRequest, access: CustomerAccess, user_id: int) -> HttpResponse:
    return user_state_change(request, access, CONSOLE, user_id)
