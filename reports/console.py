"""Console pages of the reports: a customer's service report of a month (live, or the issued
version; issuing it; its files through the API), and the provider's overview of a month across
customers (each figure links to the customer's report)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from contracts.models import Contract
from contracts.services import balances_of, local_today
from core.fields import IntegerField, LinesField
from core.parsers import parse_month
from reports import issuing
from reports.figures import monthly_figures
from reports.mailing import schedule_of, schedule_set
from reports.models import IssuedReport
from reports.presenters import hours, pct, report_context
from reports.service import service_report, time_by_agent
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, problem_of, provider_page
from tenants.access import CustomerAccess, Reach, customers_visible_to
from tenants.models import Customer
from tenants.replica import replica_reads


class ReportMonthForm(forms.Form):
    month = forms.RegexField(
        r"^[0-9]{4}-[0-9]{2}$", required=False, max_length=7, error_messages={"invalid": "Use YYYY-MM."}
    )
    version = IntegerField(minimum=1, maximum=1_000_000, required=False)


class ScheduleForm(forms.Form):
    contacts = LinesField(label="Report contacts", help_text="Email addresses, one per line.")
    day = IntegerField(minimum=1, maximum=28, label="Day of the month it goes out")


def last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_asked(
    request: AuthenticatedHttpRequest, default: date, data: Any = None
) -> tuple[date, int | None]:
    """The month (and version) a page is asked for, or the ValidationError naming the field."""
    values = cleaned(ReportMonthForm(data if data is not None else request.GET))
    month = parse_month(values["month"], field="month") if values.get("month") else default
    return month, values.get("version")


def issued_or_live(
    customer: Customer, month: date, version: int | None
) -> tuple[dict[str, Any], IssuedReport | None]:
    """The report as issued (the version asked, else the latest), or live when not issued."""
    found = issuing.issued_version(customer, month, version)
    if found is not None:
        return json.loads(bytes(found.content)), found
    with replica_reads():
        report = service_report(customer, month)
    report["issued"] = None
    return report, None


def _report_url(customer: Customer, month: date) -> str:
    return reverse("console-service-report", kwargs={"slug": customer.slug}) + f"?month={month:%Y-%m}"


@require_safe
@customer_page(scope="reports", read=Reach.STAFF, write=Reach.ADMIN)
def service_report_page(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    customer = access.customer
    try:
        month, version = month_asked(request, last_month(local_today(customer)))
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
        month, version = last_month(local_today(customer)), None
        report, found = issued_or_live(customer, month, None)
    else:
        status = 200
        report, found = issued_or_live(customer, month, version)
    versions = (
        IssuedReport.objects.filter(customer=customer, month=month)
        .order_by("-version")
        .select_related("issued_by")
    )
    api = reverse("api:service-report", kwargs={"slug": customer.slug, "month": f"{month:%Y-%m}"})
    suffix = f"&version={found.version}" if found is not None else ""
    context = report_context(report) | {
        "customer": customer,
        "access": access,
        "month_text": f"{month:%Y-%m}",
        "previous": f"{last_month(month):%Y-%m}",
        "next": f"{(month + timedelta(days=32)).replace(day=1):%Y-%m}",
        "versions": list(versions),
        "shown": found,
        "pdf_url": f"{api}?format=pdf{suffix}",
        "csv_url": f"{api}?format=csv{suffix}",
        "json_url": f"{api}?format=json{suffix}",
        "schedule_form": _schedule_form(customer),
    }
    return render(request, "reports/service_report.html", context, status=status)


def _schedule_form(customer: Customer) -> ScheduleForm:
    schedule = schedule_of(customer)
    initial = {"contacts": "\n".join(schedule.contacts), "day": schedule.day} if schedule else {"day": 3}
    return ScheduleForm(initial=initial)


@require_POST
@customer_page(scope="reports", read=Reach.ADMIN, write=Reach.ADMIN)
def service_report_schedule(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """Who gets the issued reports by email, and on which day of the next month."""
    form = ScheduleForm(request.POST)
    try:
        data = cleaned(form)
        schedule_set(
            customer=access.customer, by=access.user, contacts=list(data["contacts"]), day=data["day"]
        )
    except WORKFLOW_ERRORS as exc:
        _, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
    else:
        messages.success(request, "Report schedule saved.")
    return HttpResponseRedirect(
        reverse("console-service-report", kwargs={"slug": access.customer.slug}) + "#report-schedule"
    )


@require_POST
@customer_page(scope="reports", read=Reach.ADMIN, write=Reach.ADMIN)
def service_report_issue(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """Freeze the month (the next version)."""
    customer = access.customer
    try:
        month, _ = month_asked(request, last_month(local_today(customer)), request.POST)
        made = issuing.report_issue(customer=customer, month=month, by=access.user)
    except WORKFLOW_ERRORS as exc:
        _, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
        return HttpResponseRedirect(reverse("console-service-report", kwargs={"slug": customer.slug}))
    changed = (
        f", {len(made.differences)} figures changed since version {made.version - 1}"
        if made.version > 1
        else ""
    )
    messages.success(
        request, f"Issued {month:%B %Y} as version {made.version} (SHA-256 {made.sha256[:12]}…){changed}."
    )
    return HttpResponseRedirect(_report_url(customer, month))


@require_safe
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal="The reports overview is for provider admins.")
def overview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The month across customers: tickets, breaches, SLA met %, billable hours and the prepaid
    balances running low; each figure links to the customer's report."""
    try:
        month, _ = month_asked(request, last_month(timezone.localdate()))
        status = 200
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
        month = last_month(timezone.localdate())
    customers = list(customers_visible_to(request.user).order_by("name", "id"))
    with replica_reads():
        figures = monthly_figures(customers, month)
        low = low_balances()
        agents = time_by_agent(month)
    rows: list[dict[str, Any]] = [
        {
            "customer": customer,
            "figures": figures[customer.pk],
            "url": _report_url(customer, month),
            "first_response": pct(figures[customer.pk]["first_response_met_pct"]),
            "resolution": pct(figures[customer.pk]["resolution_met_pct"]),
            "billable": hours(figures[customer.pk]["billable_minutes"]),
        }
        for customer in customers
    ]
    totals = {
        name: sum(row["figures"][name] for row in rows)
        for name in ("tickets_created", "tickets_resolved", "breaches", "billable_minutes")
    }
    context = {
        "rows": rows,
        "totals": totals | {"billable": hours(totals["billable_minutes"])},
        "low": low,
        "agents": [
            row | {"hours": hours(row["minutes"]), "billable": hours(row["billable_minutes"])}
            for row in agents
        ],
        "month_text": f"{month:%Y-%m}",
        "month_label": f"{month:%B %Y}",
        "previous": f"{last_month(month):%Y-%m}",
        "next": f"{(month + timedelta(days=32)).replace(day=1):%Y-%m}",
    }
    return render(request, "reports/overview.html", context, status=status)


def low_balances() -> list[dict[str, Any]]:
    """Prepaid blocks below their warning threshold (or overdrawn), across customers."""
    contracts = list(Contract.objects.filter(prepaid_hours__isnull=False).select_related("customer"))
    found = balances_of(contracts)
    low = [
        {
            "contract": contract,
            "balance": hours(found[contract.pk].minutes),
            "overage": found[contract.pk].overage > 0,
        }
        for contract in contracts
        if found[contract.pk].low
    ]
    return sorted(low, key=lambda row: (row["contract"].customer.name, row["contract"].name))
