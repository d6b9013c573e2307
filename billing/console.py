"""Console pages of billing: Admin → Day passes (the pool, buying passes with a confirmation
step, the consumption log with its filters and a CSV export) and Admin → Licences (the licence
report of a month with a chart of passes per day).

Billing is the provider admins' alone: customers' people and customer agents get 404 (the pages
do not exist for them), provider agents 403 on every page, reads included. Purchases go through
``billing.services.day_passes_buy`` and the log through ``billing.filtersets.ConsumptionFilterSet``,
as from the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User, UserKind
from audit.exports import record_export
from billing import services
from billing.filtersets import ConsumptionFilterSet
from billing.models import Channel, DayPassConsumption, DayPassPool, DayPassPurchase
from billing.reports import Month, licence_report, month_of
from billing.services import (
    DayPassRequired,
    active_until,
    agent_zone,
    day_pass_consume,
    needs_day_pass,
    next_local_midnight,
)
from core.charts import bars
from core.csvfiles import csv_lines
from core.fields import IntegerField
from core.parsers import zone_or_utc
from serviflow.filters import filtered
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, next_target, page_of, problem_of, provider_page
from tenants.access import Reach
from tenants.replica import replica_reads

LOG_PAGE_SIZE = 50
RECENT_PURCHASES = 5
CSV_HEADER = (
    "agent_email",
    "agent_name",
    "local_date",
    "timezone",
    "consumed_at_utc",
    "valid_until_utc",
    "channel",
    "state",
)


# Billing is the provider admins': agents are told so (403), anyone else finds nothing (404).
admin_page = provider_page(
    read=Reach.ADMIN, write=Reach.ADMIN, refusal="Billing is for provider admins only."
)


# --- Admin → Day passes ---------------------------------------------------------------------------


class BuyForm(forms.Form):
    """The quantity, and on the confirmation what it was shown with: ``confirm=yes``, the unit
    price and the last purchase it was shown after (a second click, another admin's purchase in
    between or a price change is refused with 409)."""

    quantity = IntegerField(
        minimum=1,
        maximum=services.MAX_PURCHASE,
        error_messages={"required": "Enter how many day passes to buy."},
    )
    confirm = forms.CharField(required=False, max_length=10)
    unit_price = forms.CharField(required=False, max_length=40)
    after = forms.CharField(required=False, max_length=40)

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data.get("quantity")
        if quantity is None:
            raise ValidationError(f"Buy between 1 and {services.MAX_PURCHASE:,} day passes at a time.")
        return int(quantity)

    @property
    def confirmed(self) -> bool:
        return self.cleaned_data.get("confirm") == "yes"


class MonthForm(forms.Form):
    month = forms.CharField(required=False, max_length=20)


def _form_problems(form: forms.Form) -> list[str]:
    return [f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items()]


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f} {settings.BILLING_CURRENCY}"


def _utc_iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _agents_with_passes() -> QuerySet[User]:
    """The log's agent filter: provider staff who ever used a pass (an agent converted to
    full-time keeps their past passes)."""
    used = DayPassConsumption.objects.filter(agent=OuterRef("pk"))
    staff = User.objects.filter(kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT])
    return staff.filter(Exists(used)).order_by("name", "email")


def _log_row(consumption: DayPassConsumption) -> dict[str, Any]:
    zone = zone_or_utc(consumption.timezone)
    return {
        "agent": consumption.agent,
        "local_date": consumption.local_date,
        "timezone": consumption.timezone,
        # In the pass's own zone, whatever the viewer's (templates would convert to the viewer's).
        "consumed_local": timezone.localtime(consumption.consumed_at, zone).strftime("%H:%M %Z"),
        "valid_until_local": timezone.localtime(consumption.valid_until, zone).strftime("%a %d %b %H:%M %Z"),
        "consumed_at_utc": _utc_iso(consumption.consumed_at),
        "valid_until_utc": _utc_iso(consumption.valid_until),
        "channel": consumption.channel,
        "state": services.pass_state(consumption),
    }


def _filtered_log(params: QueryDict) -> tuple[QuerySet[DayPassConsumption] | None, list[str]]:
    """The log under the page's filters, or the sentences saying which filter is wrong."""
    try:
        return filtered(ConsumptionFilterSet, params, services.consumption_log()), []
    except ValidationError as exc:
        return None, problem_of(exc)[1]


def _log_context(request: AuthenticatedHttpRequest) -> tuple[dict[str, Any], int]:
    params = request.GET
    rows, errors = _filtered_log(params)
    page: Page[DayPassConsumption] | None = None
    if rows is not None:
        page = page_of(request, rows, page_size=LOG_PAGE_SIZE)
    query = params.copy()
    query.pop("page", None)
    context = {
        "params": params,
        "errors": errors,
        "page": page,
        "rows": [_log_row(consumption) for consumption in page] if page is not None else [],
        "query": query.urlencode(),
    }
    return context, 400 if errors else 200


def _day_passes_page(
    request: AuthenticatedHttpRequest,
    *,
    problems: list[str] | None = None,
    form: BuyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    for problem in problems or []:
        messages.error(request, problem)
    log, log_status = _log_context(request)
    pool = services.pool()
    context = {
        "section": "day-passes",
        "pool": pool,
        "unit_price": _money(services.unit_price()),
        "form": form or BuyForm(),
        "purchases": DayPassPurchase.objects.select_related("bought_by")[:RECENT_PURCHASES],
        "agents": _agents_with_passes(),
        "max_purchase": services.MAX_PURCHASE,
        "max_purchase_text": f"{services.MAX_PURCHASE:,}",
        **log,
    }
    return render(request, "billing/admin_day_passes.html", context, status=max(status, log_status))


@admin_page
@require_safe
def day_passes(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.htmx:  # the filters swap the log in place
        log, status = _log_context(request)
        return render(request, "billing/admin_day_pass_log.html", log, status=status)
    return _day_passes_page(request)


def _last_purchase_id() -> int:
    return DayPassPurchase.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _confirmation(request: AuthenticatedHttpRequest, quantity: int, *, status: int = 200) -> HttpResponse:
    price = services.unit_price()
    context = {
        "section": "day-passes",
        "quantity": quantity,
        "unit_price": price,
        "unit_price_text": _money(price),
        "total_text": _money(price * quantity),
        "balance_after": services.pool().balance + quantity,
        "after": _last_purchase_id(),  # what the confirmation was shown after (see below)
    }
    return render(request, "billing/admin_day_pass_confirm.html", context, status=status)


@admin_page
@require_POST
def day_passes_buy(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Two steps: the quantity shows what it costs (nothing written); ``confirm`` buys, once."""
    admin = request.user
    form = BuyForm(request.POST)
    if not form.is_valid():
        return _day_passes_page(request, problems=_form_problems(form), form=form, status=400)
    quantity: int = form.cleaned_data["quantity"]
    if not form.confirmed:
        return _confirmation(request, quantity)
    price = services.unit_price()
    if form.cleaned_data["unit_price"] != str(price):  # the price changed since the confirmation
        messages.error(request, f"The unit price is now {_money(price)}: check the total again.")
        return _confirmation(request, quantity, status=409)
    try:
        with transaction.atomic():
            # One confirmation at a time (the pool's row, which the purchase's trigger updates
            # anyway): a second click on the same confirmation, or another admin's purchase since
            # it was shown, finds a newer purchase than the one it was shown after.
            DayPassPool.objects.select_for_update().get(pk=1)
            stale = form.cleaned_data["after"] != str(_last_purchase_id())
            purchase = None if stale else services.day_passes_buy(by=admin, quantity=quantity)
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return _day_passes_page(request, problems=problems, form=form, status=status)
    if purchase is None:
        messages.error(
            request, "Day passes were bought since this purchase was shown to you: check it again."
        )
        return _confirmation(request, quantity, status=409)
    messages.success(
        request,
        f"Bought {purchase.quantity:,} day passes at {_money(purchase.unit_price)} each "
        f"({_money(purchase.total)}). The pool now holds {services.pool().balance:,}.",
    )
    return HttpResponseRedirect(reverse("billing-day-passes"))


def _csv_cells(consumption: DayPassConsumption) -> tuple[object, ...]:
    row = _log_row(consumption)
    agent: User = row["agent"]
    values = (agent.email, agent.name, row["local_date"].isoformat(), row["timezone"])
    return (*values, row["consumed_at_utc"], row["valid_until_utc"], row["channel"], row["state"])


@admin_page
@require_safe
def day_passes_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The filtered log as CSV, streamed (the whole ledger may be long)."""
    rows, problems = _filtered_log(request.GET)
    if rows is None:
        return _day_passes_page(request, problems=problems, status=400)
    record_export(
        "day-pass log",
        of=DayPassConsumption,
        file_format="csv",
        params=request.GET,
        names=ConsumptionFilterSet.base_filters,
    )

    def lines() -> Iterator[str]:
        with replica_reads():
            cells = (_csv_cells(consumption) for consumption in rows.iterator(chunk_size=2_000))
            yield from csv_lines(CSV_HEADER, cells)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    filename = f"day-passes-{timezone.now().date().isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response  # type: ignore[return-value]  # the page gates hand any response on


# --- Admin → Licences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayBar:
    day: int
    passes: int
    date_text: str

    @property
    def text(self) -> str:
        return f"{self.date_text}: {self.passes} pass{'' if self.passes == 1 else 'es'}"


def passes_chart(by_day: list[dict[str, Any]], month_label: str) -> dict[str, Any]:
    """A bar per day of the month (``core.charts``), with the days that had passes as a table
    and a sentence saying what it shows."""
    days = [
        DayBar(when.day, int(day["passes"]), f"{when:%a %d %b %Y}")
        for day in by_day
        for when in [date.fromisoformat(str(day["date"]))]
    ]
    total = sum(day.passes for day in days)
    summary = f"{total} day pass{'' if total == 1 else 'es'} used in {month_label}"
    if total:
        busiest = max(days, key=lambda day: day.passes)  # the first of equals
        summary += f"; the busiest day was {busiest.text}"
    summary += "."
    chart = bars(
        "day-passes",
        [str(day.day) for day in days],
        {"Day passes": [day.passes for day in days]},
        summary=summary,
        whole=True,
        label_every=5,
        height=240,
    )
    return {"image": chart, "days": days, "summary": summary}


def _month_links(month: Month) -> dict[str, str]:
    before = (month.first - timedelta(days=1)).replace(day=1)
    return {"previous": before.strftime("%Y-%m"), "next": month.after.strftime("%Y-%m")}


@admin_page
@require_safe
def licences(request: AuthenticatedHttpRequest) -> HttpResponse:
    asked = MonthForm(request.GET)
    context: dict[str, Any] = {"section": "licences", "month_text": asked.data.get("month", "")}
    try:
        month = month_of(cleaned(asked)["month"])
    except ValidationError as exc:
        status, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
        return render(request, "billing/admin_licences.html", context, status=status)
    report: dict[str, Any] = licence_report(month)
    label = month.first.strftime("%B %Y")
    context |= {
        "month": month,
        "month_label": label,
        "month_text": month.label,
        "report": report,
        "day_pass_price": _money(Decimal(report["day_pass_price"])),
        "licence_price": _money(Decimal(report["full_time_licence_price"])),
        "passes_cost": _money(Decimal(report["day_pass_price"]) * report["day_passes_consumed"]),
        "chart": passes_chart(report["by_day"], label),
        **_month_links(month),
    }
    return render(request, "billing/admin_licences.html", context)


# --- the occasional agent's first page of the day: a day pass will be consumed; Proceed -----------


@login_required
def day_pass(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_provider_staff:
        raise Http404
    target = next_target(request)
    now = timezone.now()
    if not needs_day_pass(user) or active_until(user, now) is not None:
        return HttpResponseRedirect(target)
    zone = agent_zone(user)
    today = now.astimezone(zone).date()
    context = {
        "next": target,
        "today": today,
        "zone": zone.key,
        "until": timezone.localtime(next_local_midnight(today, zone), zone),
        "problem": None,
    }
    if request.method == "POST":
        try:
            use = day_pass_consume(user=user, channel=Channel.CONSOLE, now=now)
        except DayPassRequired as refusal:
            context["problem"] = refusal.detail
            return render(request, "billing/day_pass.html", context, status=402)
        until = timezone.localtime(use.valid_until, zone).strftime("%a %d %b %H:%M %Z")
        messages.success(request, f"Day pass used for {today:%a %d %b}: you have access until {until}.")
        return HttpResponseRedirect(target)
    return render(request, "billing/day_pass.html", context)
