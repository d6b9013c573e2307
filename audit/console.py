"""Console pages of the audit trail, for provider admins: Admin → Audit (one chain's entries, the
provider's or a customer's, filtered by actor, action, object, channel and period, each with a
readable diff; its head as published; verifying it; CSV and JSON exports) and Admin → Access
review (who had access to which customer in a period; printable, and as CSV).

The portal's page (``audit.portal``) is this page, over the customer's own chain."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.models import User
from audit import chain
from audit.api import AuditEntrySerializer, newest_first
from audit.exports import record_export
from audit.filtersets import ACTIONS, OBJECT_TYPES, AuditFilterSet
from audit.forms import VerifyForm, chain_customer, cleaned_period
from audit.models import AuditEntry, Channel
from audit.presenters import CSV_HEADER, csv_rows, entry_view
from core.csvfiles import csv_lines
from people import review
from serviflow.filters import filtered
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import cleaned, page_of, problem_of, provider_page
from tenants.access import Reach, customers_visible_to
from tenants.models import Customer
from tenants.replica import replica_reads
from tenants.schema import PUBLIC_SCHEMA, customer_schema
from tickets.types.masking import changes_for_customer, hidden_keys

PAGE_SIZE = 50
EXPORT_CHUNK = 2_000

admin_page = provider_page(
    read=Reach.ADMIN, write=Reach.ADMIN, refusal="The audit trail is for provider admins only."
)


@dataclass(frozen=True)
class Side:
    """Where the entries page is shown: the console (any chain) or a customer's portal."""

    name: str
    csv_url: str
    json_url: str


CONSOLE = Side(name="console", csv_url="audit-entries-csv", json_url="audit-entries-json")
PORTAL_SIDE = "portal"  # audit.portal.PORTAL's name


def _inside(customer: Customer | None) -> AbstractContextManager[Any]:
    return customer_schema(customer) if customer is not None else nullcontext()


def _for_side(entries: Iterable[AuditEntry], side: Side) -> Iterator[AuditEntry]:
    """The entries as ``side`` shows them: the portal (the customer's admins) without the custom
    fields only the service desk sees (``tickets.types.masking``; the rows are not saved)."""
    hidden = hidden_keys() if side.name == PORTAL_SIDE else None
    for entry in entries:
        if hidden is not None:
            object_type = f"{entry.content_type.app_label}.{entry.content_type.model}"
            entry.changes = changes_for_customer(object_type, entry.changes, hidden)
        yield entry


def _rows(request: AuthenticatedHttpRequest) -> QuerySet[AuditEntry]:
    """The chain on the search path under the query string's filters (ValidationError names a
    bad one)."""
    return filtered(AuditFilterSet, request.GET, newest_first())


def entries_page(
    request: AuthenticatedHttpRequest, customer: Customer | None, side: Side, **extra: Any
) -> HttpResponse:
    """One chain's entries, paged, with the filters, the chain's head and (``?verify=true``) a
    verdict on the whole chain."""
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("verify", None)
    context: dict[str, Any] = {
        "section": "audit",
        "side": side,
        "params": request.GET,
        "query": query.urlencode(),
        "customer": customer,
        "actions": list(ACTIONS),
        "channels": Channel.choices,
        "object_types": OBJECT_TYPES,
        "errors": [],
        "page": None,
        "rows": [],
        **extra,
    }
    status = 200
    schema = customer.schema_name if customer is not None else PUBLIC_SCHEMA
    verify = False
    with _inside(customer):
        try:
            verify = cleaned(VerifyForm(request.GET))["verify"]
            page = page_of(request, _rows(request), page_size=PAGE_SIZE)
            context["page"] = page
            context["rows"] = [entry_view(entry) for entry in _for_side(page, side)]
        except ValidationError as exc:
            status, context["errors"] = problem_of(exc)
        context["head"] = chain.signed(chain.head_of(schema), timezone.now())
        if verify:
            context["verdict"] = chain.verify(schema)
    return render(request, "audit/entries.html", context, status=status)


def _streamed(
    customer: Customer | None, rows: Callable[[], Iterator[str]], content_type: str, filename: str
) -> HttpResponse:
    """``rows`` produced while the response streams, inside the customer's schema (the view has
    returned by then, so the schema is entered by the stream itself)."""

    def stream() -> Iterator[str]:
        with _inside(customer), replica_reads():
            yield from rows()

    response = StreamingHttpResponse(stream(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response  # type: ignore[return-value]  # the page gates hand any response on


def _export_rows(request: AuthenticatedHttpRequest, customer: Customer | None) -> QuerySet[AuditEntry] | None:
    with _inside(customer):
        try:
            rows = _rows(request)
            rows.exists()  # the filters are checked now, not once the stream has started
        except ValidationError:
            return None
    return rows


def export(
    request: AuthenticatedHttpRequest, customer: Customer | None, side: Side, kind: str, **extra: Any
) -> HttpResponse:
    """The filtered entries as CSV (every cell formula-safe) or JSON (the API's fields)."""
    rows = _export_rows(request, customer)
    if rows is None:
        return entries_page(request, customer, side, **extra)  # the page names the bad filter
    slug = customer.slug if customer is not None else ""
    record_export(
        f"audit entries of {slug or 'the provider'}",
        of=AuditEntry,
        file_format=kind,
        params=request.GET,
        names=("customer", *AuditFilterSet.base_filters),
    )
    stamp = timezone.now().date().isoformat()
    name = f"audit-{slug or 'provider'}-{stamp}"
    if kind == "csv":
        return _streamed(
            customer,
            lambda: csv_lines(
                CSV_HEADER, csv_rows(_for_side(rows.iterator(chunk_size=EXPORT_CHUNK), side), slug)
            ),
            "text/csv; charset=utf-8",
            f"{name}.csv",
        )

    def as_json() -> Iterator[str]:
        yield "["
        for n, entry in enumerate(_for_side(rows.iterator(chunk_size=EXPORT_CHUNK), side)):
            data = AuditEntrySerializer(entry, context={"customer": slug or None}).data
            yield ("," if n else "") + json.dumps(data, ensure_ascii=False, default=str)
        yield "]"

    return _streamed(customer, as_json, "application/json", f"{name}.json")


def _console_chain(request: AuthenticatedHttpRequest) -> tuple[Customer | None, list[str]]:
    try:
        return chain_customer(request.user, request.GET), []
    except ValidationError as exc:
        return None, problem_of(exc)[1]


def _console_extra(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    return {"customers": customers_visible_to(request.user).order_by("name")}


@admin_page
@require_safe
def entries(request: AuthenticatedHttpRequest) -> HttpResponse:
    customer, problems = _console_chain(request)
    if problems:
        context = {"section": "audit", "side": CONSOLE, "errors": problems, "params": request.GET}
        return render(request, "audit/entries.html", {**context, **_console_extra(request)}, status=400)
    return entries_page(request, customer, CONSOLE, **_console_extra(request))


def _console_export(request: AuthenticatedHttpRequest, kind: str) -> HttpResponse:
    customer, problems = _console_chain(request)
    if problems:
        return entries(request)
    return export(request, customer, CONSOLE, kind, **_console_extra(request))


@admin_page
@require_safe
def entries_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _console_export(request, "csv")


@admin_page
@require_safe
def entries_json(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _console_export(request, "json")


# --- Admin → Access review ------------------------------------------------------------------------

REVIEW_HEADER = (
    "customer",
    "customer_name",
    "email",
    "name",
    "role",
    "granted_at_utc",
    "granted_by",
    "revoked_at_utc",
    "revoked_by",
    "passes_used",
    "last_access_utc",
    "deactivated_at_utc",
    "deactivation_to_last_access_seconds",
)


def _utc(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _review_cells(row: review.AccessRow) -> tuple[object, ...]:
    gap = row.deactivation_to_last_access
    return (
        row.customer,
        row.customer_name,
        row.email,
        row.name,
        row.role,
        _utc(row.granted.at),
        row.granted.by,
        _utc(row.revoked.at) if row.revoked else "",
        row.revoked.by if row.revoked else "",
        "" if row.passes_used is None else row.passes_used,
        _utc(row.last_access),
        _utc(row.deactivated_at),
        "" if gap is None else int(gap.total_seconds()),
    )


def _default_period() -> tuple[date, date]:
    """The last full calendar month (UTC), what a review is usually asked for."""
    first_of_this = timezone.now().astimezone(UTC).date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


@admin_page
@require_safe
def access_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    status, errors = 200, list[str]()
    start, end = _default_period()
    if "from" in request.GET or "to" in request.GET:
        try:
            start, end = cleaned_period(request.GET)
        except ValidationError as exc:
            status, errors = problem_of(exc)
    rows = review.access_review(start, end) if not errors else []
    context = {
        "section": "access-review",
        "start": start,
        "end": end,
        "params": request.GET,
        "errors": errors,
        "rows": rows,
        "query": f"from={start.isoformat()}&to={end.isoformat()}",
        "generated_at": timezone.now(),
    }
    return render(request, "audit/access_review.html", context, status=status)


@admin_page
@require_safe
def access_review_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        start, end = cleaned_period(request.GET)
    except ValidationError:
        return access_review(request)
    record_export("access review", of=User, file_format="csv", params=request.GET, names=("from", "to"))
    with replica_reads():
        cells = (_review_cells(row) for row in review.access_review(start, end))
        lines = "".join(csv_lines(REVIEW_HEADER, cells))
    response = HttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-review-{start}-to-{end}.csv"'
    return response
