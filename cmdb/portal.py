"""Portal pages of the CMDB, read-only: the customer's admins (and its agents) see every CI of
their company, other users the CIs they own. Anything else is the same 404 page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from cmdb import selectors
from cmdb.console import ci_facts, listing_context
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import portal_page
from tenants.access import CustomerAccess


@require_safe
@portal_page
def ci_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    context, status = listing_context(access, request.GET)
    context["company_wide"] = selectors.sees_all_cis(access)
    return render(request, "portal/cis.html", context, status=status)


@require_safe
@portal_page
def ci_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int) -> HttpResponse:
    ci = selectors.ci_for(access, ci_id)
    relations = list(selectors.relations_visible(access, ci))
    context = ci_facts(access, ci, relations, ci_base=reverse("portal-cis"), ticket_base="/tickets/")
    return render(request, "portal/ci.html", context)
