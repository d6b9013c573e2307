"""The portal's audit page: the company's own entries (its tickets, people, equipment and
settings) for its admins, provider staff shown by name, with the console's filters and exports."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.views.decorators.http import require_safe

from accounts.models import CustomerRole
from audit.console import Side, entries_page, export
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import portal_page
from tenants.access import CustomerAccess

PORTAL = Side(name="portal", csv_url="portal-audit-csv", json_url="portal-audit-json")


def _require_admin(access: CustomerAccess) -> None:
    if access.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only your company's admins can read its audit trail.")


@require_safe
@portal_page
def entries(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return entries_page(request, access.customer, PORTAL)


@require_safe
@portal_page
def entries_csv(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return export(request, access.customer, PORTAL, "csv")


@require_safe
@portal_page
def entries_json(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return export(request, access.customer, PORTAL, "json")
