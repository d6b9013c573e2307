"""API of the monthly figures and the service report (api.md, reports.md):

- ``GET /api/v1/reports/customers/?month=YYYY-MM`` (provider admins): each customer's figures,
  a page of customers at a time (``&format=csv``: every customer, one row each).
- ``GET /api/v1/reports/customers/{slug}/{YYYY-MM}/`` (provider admins, member agents with the
  reports scope, the customer's admins): the service report; ``?format=csv|pdf``. An issued
  month is its latest issued version (``?version=``: an earlier one), byte for byte. The
  customer's admins read issued versions only.
- ``POST …/{YYYY-MM}/issue/`` (provider admins): freeze the month as the next version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.http import Http404, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import CustomerRole
from audit.exports import record_export
from billing.reports import month_of
from cmdb.models import CiType
from core.csvfiles import csv_lines
from core.parsers import MONTH_PATTERN, parse_month
from reports import issuing
from reports.figures import FIGURES, monthly_figures
from reports.files import report_csv, report_pdf
from reports.models import IssuedReport
from reports.serializers import (
    FiguresPageSerializer,
    FiguresQuerySerializer,
    IssuedSerializer,
    ReportQuerySerializer,
)
from reports.service import service_report
from serviflow.api.pagination import PageNumberPagination
from serviflow.api.schema import error
from serviflow.api.views import ApiView, CustomerScopedViewSet
from tenants.access import CustomerAccess, Reach, customers_visible_to
from tenants.models import Customer
from tenants.replica import replica_reads


class FormatIsOurs(BaseContentNegotiation):
    """These views read ``?format=`` themselves (json, csv, pdf) and answer JSON otherwise: DRF's
    own use of the parameter (picking a renderer) would 404 on ``csv``."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return DefaultContentNegotiation().select_parser(request, parsers)


CSV_CHUNK = 500
READERS = "Only provider staff and the customer's admins read its service reports."
NOT_ISSUED = "This month's service report has not been issued yet."
MONTH_PARAMETER = OpenApiParameter("month", str, OpenApiParameter.PATH, pattern=MONTH_PATTERN)


def figures_row(customer: Customer, month: date, figures: dict[str, Any]) -> dict[str, Any]:
    row = {
        "customer": customer.slug,
        "name": customer.name,
        "timezone": customer.timezone,
        "month": f"{month:%Y-%m}",
    }
    row |= {name: figures[name] for name in FIGURES}
    row["assets_total"] = sum(figures["assets"].values())
    return row


class CustomerFiguresView(ApiView):
    content_negotiation_class = FormatIsOurs
    read_reach = write_reach = Reach.ADMIN
    refusal = "Only provider admins read the monthly figures."

    @extend_schema(
        operation_id="reports_customers_list",
        parameters=[FiguresQuerySerializer],
        responses={200: FiguresPageSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        """Each customer's figures of a month (reports.md): one statement per figure for the page."""
        query = FiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = month_of(query.validated_data.get("month")).first
        customers = customers_visible_to(self.caller).order_by("name", "id")
        if query.validated_data["format"] == "csv":
            record_export(
                "monthly figures",
                of=Customer,
                file_format="csv",
                params=request.query_params,
                names=["month"],
            )
            response = StreamingHttpResponse(
                self._csv(list(customers), month), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="figures-{month:%Y-%m}.csv"'
            return response
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(customers, request, view=self) or []
        with replica_reads():
            figures = monthly_figures(page, month)
        rows = [figures_row(customer, month, figures[customer.pk]) for customer in page]
        listed = paginator.get_paginated_response(rows)
        listed.data = {"month": f"{month:%Y-%m}", **listed.data}
        return listed

    def _csv(self, customers: list[Customer], month: date) -> Iterator[str]:
        header = [
            "customer",
            "name",
            "month",
            *[name for name in FIGURES if name != "assets"],
            "assets_total",
        ]
        types = sorted(CiType.values)
        header += [f"assets_{ci_type}" for ci_type in types]

        def rows() -> Iterator[list[object]]:
            for start in range(0, len(customers), CSV_CHUNK):
                chunk = customers[start : start + CSV_CHUNK]
                with replica_reads():
                    figures = monthly_figures(chunk, month)
                for customer in chunk:
                    row = figures_row(customer, month, figures[customer.pk])
                    values = [
                        row[name]
                        for name in header
                        if not name.startswith("assets_") or name == "assets_total"
                    ]
                    yield [
                        *["" if v is None else v for v in values],
                        *[row["assets"].get(t, 0) for t in types],
                    ]

        return csv_lines(header, rows())


class ServiceReportViewSet(CustomerScopedViewSet):
    content_negotiation_class = FormatIsOurs
    read_reach = Reach.SIGNED_IN
    write_reach = Reach.ADMIN
    refusal = "Only provider admins issue service reports."
    scope = "reports"

    def check_customer_role(self, request: Request, access: CustomerAccess) -> None:
        if not access.is_provider_staff and access.customer_role != CustomerRole.ADMIN:
            raise PermissionDenied(READERS)

    def month(self) -> date:
        return parse_month(self.kwargs["month"], field="month")

    @extend_schema(
        operation_id="reports_customer_month_retrieve",
        parameters=[MONTH_PARAMETER, ReportQuerySerializer],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="the service report (reports.md)"),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: error("No such customer, or (for the customer's admins) the month is not issued yet."),
        },
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The service report of a month: the issued snapshot if there is one, else live."""
        month = self.month()
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted, version = query.validated_data["format"], query.validated_data.get("version")
        customer = self.access.customer
        found = issuing.issued_version(customer, month, version)
        if found is None and (version is not None or not self.access.is_provider_staff):
            raise Http404(NOT_ISSUED if version is None else "No such issued version.")
        if wanted != "json":
            record_export(
                f"service report {month:%Y-%m}",
                of=IssuedReport,
                file_format=wanted,
                params=request.query_params,
                names=["version"],
            )
        name = f"{customer.slug}-{month:%Y-%m}-service-report"
        if found is not None:
            content = {"json": found.content, "csv": found.csv, "pdf": found.pdf}[wanted]
            return _file(bytes(content or b""), wanted, name)
        with replica_reads():
            report = service_report(customer, month)
        report["issued"] = None
        if wanted == "csv":
            return _file(report_csv(report), "csv", name)
        if wanted == "pdf":
            return _file(report_pdf(report), "pdf", name)
        return _file(issuing.canonical(report), "json", name)

    @extend_schema(parameters=[MONTH_PARAMETER], request=None, responses={201: IssuedSerializer})
    def issue(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Freeze the month: the report, its CSV and PDF are stored, the SHA-256 goes into the
        customer's audit chain; later GETs of the month return this version."""
        made = issuing.report_issue(customer=self.access.customer, month=self.month(), by=self.caller)
        return Response(
            IssuedSerializer(made).data,
            status=status.HTTP_201_CREATED,
        )


CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def _file(content: bytes, kind: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES[kind])
    if kind != "json":
        response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response
