"""Console pages of a customer's contracts: the list with each prepaid balance, a new contract
(provider admins), one contract with its ledger and a top-up (provider admins), and closing a
month for time entries (provider admins)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import services, time
from contracts.api import balances
from contracts.forms import ContractForm, MonthCloseForm, TopupForm
from contracts.presenters import ledger_context
from core.parsers import parse_month
from reports.presenters import hours
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, refused
from tenants.access import CustomerAccess, Reach


def _list_url(access: CustomerAccess) -> str:
    return reverse("console-contracts", kwargs={"slug": access.customer.slug})


@customer_page(read=Reach.STAFF, write=Reach.ADMIN)
def contract_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """The customer's contracts; a provider admin adds one here."""
    form = ContractForm()
    status = 200
    if request.method == "POST":
        form = ContractForm(request.POST)
        try:
            contract = services.contract_create(
                customer=access.customer, by=access.user, values=cleaned(form) and form.values()
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, f"Contract {contract.name} added.")
            return HttpResponseRedirect(_list_url(access))
    contracts = list(services.contracts_of(access.customer).order_by("-starts_on", "-id"))
    found = balances(contracts)
    today = services.local_today(access.customer)
    rows = [
        {
            "contract": contract,
            "active": contract.starts_on <= today and (contract.ends_on is None or contract.ends_on >= today),
            "balance": hours(found.get(contract.pk)) if contract.has_prepaid else "",
            "overage": found.get(contract.pk, 0) < 0,
        }
        for contract in contracts
    ]
    closed = list(time.closed_months(access.customer).select_related("closed_by")[:24])
    context = {
        "customer": access.customer,
        "access": access,
        "rows": rows,
        "form": form,
        "close_form": MonthCloseForm(),
        "closed": closed,
    }
    return render(request, "contracts/list.html", context, status=status)


@customer_page(read=Reach.STAFF, write=Reach.ADMIN)
def contract_detail(
    request: AuthenticatedHttpRequest, access: CustomerAccess, contract_id: int
) -> HttpResponse:
    """One contract: its terms, the prepaid balance (overage shown as such) and every movement;
    a provider admin tops it up here."""
    contract = services.contracts_of(access.customer).filter(pk=contract_id).first()
    if contract is None:
        raise Http404
    form = TopupForm()
    status = 200
    if request.method == "POST":
        form = TopupForm(request.POST)
        try:
            data = cleaned(form)
            services.topup(
                contract=contract, by=access.user, minutes=int(data["hours"] * 60), note=data["note"]
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, f"{data['hours']} hours added to {contract.name}.")
            return HttpResponseRedirect(
                reverse("console-contract", kwargs={"slug": access.customer.slug, "contract_id": contract.pk})
            )
    context: dict[str, Any] = {
        "customer": access.customer,
        "access": access,
        "contract": contract,
        "form": form,
        **ledger_context(contract),
    }
    return render(request, "contracts/detail.html", context, status=status)


@require_POST
@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def month_close(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """Close a month for time entries (provider admins)."""
    form = MonthCloseForm(request.POST)
    try:
        month = parse_month(cleaned(form)["month"], field="month")
        time.month_close(customer=access.customer, month=month, by=access.user)
    except WORKFLOW_ERRORS as exc:
        refused(request, exc)
    else:
        messages.success(request, f"{month:%Y-%m} is closed for time entries.")
    return HttpResponseRedirect(_list_url(access) + "#months")
