"""The portal's reports: the company's issued service reports (its admins), each as issued: the
page, its PDF and CSV. A month not issued is not shown."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.models import CustomerRole
from core.parsers import parse_month
from reports.console import ReportMonthForm
from reports.models import IssuedReport
from reports.presenters import report_context
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import cleaned, portal_page
from tenants.access import CustomerAccess

FILES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def _require_admin(access: CustomerAccess) -> None:
    if access.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only your company's admins can read its service reports.")


def _issued(request: AuthenticatedHttpRequest, access: CustomerAccess, month_text: str) -> IssuedReport:
    month = parse_month(month_text, field="month")
    version = cleaned(ReportMonthForm(request.GET)).get("version")
    issued = IssuedReport.objects.filter(customer=access.customer, month=month)
    found = issued.filter(version=version).first() if version else issued.order_by("-version").first()
    if found is None:
        raise Http404
    return found


@require_safe
@portal_page
def reports(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    _require_admin(access)
    issued = (
        IssuedReport.objects.filter(customer=access.customer)
        .defer("content", "csv", "pdf")
        .order_by("-month", "-version")
    )
    return render(request, "reports/portal_list.html", {"customer": access.customer, "issued": issued})


@require_safe
@portal_page
def report(request: AuthenticatedHttpRequest, access: CustomerAccess, month: str) -> HttpResponse:
    _require_admin(access)
    found = _issued(request, access, month)
    context = report_context(json.loads(bytes(found.content))) | {"customer": access.customer, "shown": found}
    return render(request, "reports/portal_report.html", context)


@require_safe
@portal_page
def report_file(
    request: AuthenticatedHttpRequest, access: CustomerAccess, month: str, kind: str
) -> HttpResponse:
    _require_admin(access)
    found = _issued(request, access, month)
    content = bytes((found.pdf if kind == "pdf" else found.csv) or b"")
    response = HttpResponse(content, content_type=FILES[kind])
    response["Content-Disposition"] = (
        f'attachment; filename="{access.customer.slug}-{found.month:%Y-%m}-v{found.version}'
        f'-service-report.{kind}"'
    )
    return response
