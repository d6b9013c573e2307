"""Portal pages of the company's users, for the customer's admins (and its own agents): invite,
change name, email, role (user or admin) and time zone, deactivate and reactivate. The pages are
``people.console``'s; ``people.services`` refuses what only the provider may do (agent access, SLA
overrides, agent-level accounts), and anyone else of the customer is refused (403)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.views.decorators.http import require_POST, require_safe

from people.console import Side, user_form_page, user_state_change, users_page
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import portal_page
from tenants.access import CustomerAccess

PORTAL = Side(name="portal", sets_passwords=False)  # people choose their own, from the invitation


def _require_admin(access: CustomerAccess) -> None:
    """Before anything is looked up: the same answer for every id."""
    if not access.manages_users:
        raise PermissionDenied("Only your company's admins manage its users.")


@require_safe
@portal_page
def user_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return users_page(request, access, PORTAL)


@portal_page
def user_new(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return user_form_page(request, access, PORTAL, None)


@portal_page
def user_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, user_id: int) -> HttpResponse:
    _require_admin(access)
    return user_form_page(request, access, PORTAL, user_id)


@require_POST
@portal_page
def user_state(request: AuthenticatedHttpRequest, access: CustomerAccess, user_id: int) -> HttpResponse:
    _require_admin(access)
    return user_state_change(request, access, PORTAL, user_id)
