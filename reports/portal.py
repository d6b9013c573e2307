"""The portal's reports: the company's issued service reports (its admins), each as issued: the
page, its PDF and CSV. A month not issued is not shown."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.models import CustomerRole
from core.parsers import parse_month
from reports.console import ReportMonthForm
from reports.issuing import issued_version
from reports.models import IssuedReport
from reports.presenters import report_context
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import cleaned, portal_page, problem_of
from tenants.access import CustomerAccess

FILES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def _require_admin(access: CustomerAccess) -> None:
    if access.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only your company's admins can read its service reports.")


def _issued(request: AuthenticatedHttpRequest, access: CustomerAccess, month_text: str) -> IssuedReport:
    """The issued version asked for (the latest by default); Http404 for a month that names no
    issued report (a malformed one included); a bad ``version`` is the ValidationError naming it."""
    try:
        month = parse_month(month_text, field="month")
    except ValidationError:
        raise Http404 from None
    version = cleaned(ReportMonthForm(request.GET)).get("version")
    found = issued_version(access.customer, month, version)
    if found is None:
        raise Http404
    return found


def _issued_list(access: CustomerAccess) -> Any:
    return (
        IssuedReport.objects.filter(customer=access.customer)
        .defer("content", "csv", "pdf")
        .order_by("-month", "-version")
    )


def _refused(request: AuthenticatedHttpRequest, access: CustomerAccess, exc: ValidationError) -> HttpResponse:
    """The list of reports, with what was wrong with the request (400)."""
    status, problems = problem_of(exc)
    for problem in problems:
        messages.error(request, problem)
    context = {"customer": access.customer, "issued": _issued_list(access)}
    return render(request, "reports/portal_list.html", context, status=status)


@require_safe
@portal_page
def reports(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    return render(
        request, "reports/portal_list.html", {"customer": access.customer, "issued": _issued_list(access)}
    )


@require_safe
@portal_page
def report(request: AuthenticatedHttpRequest, access: CustomerAccess, month: str) -> HttpResponse:
    _require_admin(access)
    try:
        found = _issued(request, access, month)
    except ValidationError as exc:
        return _refused(request, access, exc)
    context = report_context(json.loads(bytes(found.content))) | {"customer": access.customer, "shown": found}
    return render(request, "reports/portal_report.html", context)


@require_safe
@portal_page
def report_file(
    request: AuthenticatedHttpRequest, access: CustomerAccess, month: str, kind: str
) -> HttpResponse:
    _require_admin(access)
    try:
        found = _issued(request, access, month)
    except ValidationError as exc:
        return _refused(request, access, exc)
    content = bytes((found.pdf if kind == "pdf" else found.csv) or b"")
    response = HttpResponse(content, content_type=FILES[kind])
    response["Content-Disposition"] = (
        f'attachment; filename="{access.customer.slug}-{found.month:%Y-%m}-v{found.version}'
        f'-service-report.{kind}"'
    )
    return response
