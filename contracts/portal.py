"""The portal's contract page: the company's contracts, each prepaid balance and its history
(its admins)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.models import CustomerRole
from contracts import services
from contracts.presenters import ledger_context
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import portal_page
from tenants.access import CustomerAccess


@require_safe
@portal_page
def contracts(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    if access.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only your company's admins can read its contracts.")
    shown = [
        {"contract": contract, **ledger_context(contract)}
        for contract in services.contracts_of(access.customer).order_by("-starts_on", "-id")
    ]
    return render(request, "contracts/portal.html", {"customer": access.customer, "shown": shown})
