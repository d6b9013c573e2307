"""Console pages of the provider's SLA configuration: business-hours profiles (a week grid with
the open intervals as bars, the intervals editable per day, holidays and a "fill from a
country's public holidays" form) and policies (a targets table P1-P4 with the minutes also as
hours). Provider admins change them; agents see them read-only; anyone else gets 404.
Every change goes through ``sla.services``, as from the API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.contrib import messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.errors import RuleViolation
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, customer_page, problem_of, provider_page
from sla import services
from sla.engine.calendar import WEEKDAYS
from sla.engine.clocks import FIRST_RESPONSE, RESOLUTION
from sla.forms import (
    DAY_LABELS,
    FillHolidaysForm,
    PolicyForm,
    ProfileForm,
    ReapplyForm,
    SimulatorForm,
    WeekForm,
    day_preview,
    target_field,
)
from sla.models import PRIORITIES, STANDARD_TARGETS, BusinessHours, SlaPolicy
from sla.presenters import CLOCK_LABELS, simulation_json
from sla.serializers import SimulateSerializer
from sla.services import TARGET_CLOCKS
from tenants.access import CustomerAccess, Reach, reaches
from tenants.models import Customer
from tickets.sla.reapply import reapply_commit, reapply_preview

DAY_MINUTES = 24 * 60
SHORT_DAYS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


SLA_REFUSAL = "Only provider admins can change the SLA configuration."


def _can_edit(request: AuthenticatedHttpRequest) -> bool:
    return reaches(request.user, Reach.ADMIN)


# --- presentation helpers -----------------------------------------------------------------------


def duration_text(minutes: int | None) -> str:
    """Business minutes as a person reads them: 45 min, 4 h, 1 h 30 min, 48 h."""
    if minutes is None:
        return ""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def week_grid(schedule: Mapping[str, Any], problems: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The week grid: one row per weekday, each open interval as a bar placed on a 24-hour track
    (left and width in percent), with the intervals as text and the open time per week."""
    rows = []
    total = 0
    for day in WEEKDAYS:
        bars = []
        for start, end in schedule.get(day) or []:
            opens, closes = _minute(start), _minute(end)
            total += closes - opens
            bars.append(
                {
                    "left": f"{opens * 100 / DAY_MINUTES:.3f}",
                    "width": f"{(closes - opens) * 100 / DAY_MINUTES:.3f}",
                    "text": f"{start}-{end}",
                }
            )
        rows.append(
            {
                "day": day,
                "label": DAY_LABELS[day],
                "short": SHORT_DAYS[day],
                "bars": bars,
                "text": ", ".join(bar["text"] for bar in bars) or "closed",
                "problem": (problems or {}).get(day),
            }
        )
    hours = [{"label": f"{hour:02d}", "left": f"{hour * 100 / 24:.3f}"} for hour in range(0, 25, 3)]
    return {"rows": rows, "hours": hours, "open": bool(total), "total": duration_text(total)}


def schedule_summary(schedule: Mapping[str, Any]) -> str:
    """``Mon-Fri 09:00-17:00 · Sat 10:00-14:00``: runs of days with the same hours."""
    parts: list[str] = []
    run: list[str] = []
    previous: Any = None
    for day in [*WEEKDAYS, None]:
        intervals = (schedule.get(day) or []) if day else None
        if run and intervals != previous:
            if previous:
                days = SHORT_DAYS[run[0]] + (f"-{SHORT_DAYS[run[-1]]}" if len(run) > 1 else "")
                parts.append(f"{days} " + ", ".join(f"{start}-{end}" for start, end in previous))
            run = []
        if day:
            run.append(day)
        previous = intervals
    return " · ".join(parts) or "closed"


def _holiday_rows(holidays: list[str]) -> list[dict[str, Any]]:
    """The holidays by year, each with its weekday (``Fri 25 Dec``)."""
    years: dict[str, list[str]] = {}
    for text in holidays:
        day = date.fromisoformat(text)
        years.setdefault(text[:4], []).append(day.strftime("%a %d %b"))
    return [{"year": year, "days": days} for year, days in sorted(years.items())]


def _sla_context(request: AuthenticatedHttpRequest, section: str, **extra: Any) -> dict[str, Any]:
    return {"section": section, "can_edit": _can_edit(request), **extra}


# --- business-hours profiles ----------------------------------------------------------------------


@require_safe
@provider_page
def sla_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("sla-policies"))


def _profiles_listed() -> QuerySet[BusinessHours]:
    customers = (
        Customer.objects.filter(business_hours=OuterRef("pk"))
        .order_by()
        .values("business_hours")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return BusinessHours.objects.annotate(
        policy_count=Count("policies", distinct=True),
        customer_count=Coalesce(Subquery(customers, output_field=IntegerField()), 0),
    ).order_by("name", "pk")


@require_safe
@provider_page
def profile_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = [
        {
            "profile": profile,
            "summary": schedule_summary(profile.schedule),
            "grid": week_grid(profile.schedule),
        }
        for profile in _profiles_listed()
    ]
    return render(request, "sla/profile_list.html", _sla_context(request, "profiles", rows=rows))


def _profile_page(
    request: AuthenticatedHttpRequest,
    profile: BusinessHours | None,
    *,
    form: ProfileForm | None = None,
    fill_form: FillHolidaysForm | None = None,
    status: int = 200,
) -> HttpResponse:
    if _can_edit(request) and form is None:
        form = ProfileForm(initial=ProfileForm.initial_for(profile) if profile else None)
    shown = profile.schedule if profile else {}
    problems: dict[str, str] = {}
    if form is not None and form.is_bound:  # draw what was typed, so the grid matches the inputs
        shown, problems = _typed_schedule(form.data)
    grid = week_grid(shown, problems)
    context = _sla_context(
        request,
        "profiles",
        profile=profile,
        form=form,
        fill_form=fill_form or (FillHolidaysForm() if profile and _can_edit(request) else None),
        grid=grid | {"rows": _grid_rows_with_inputs(form, grid)},
        holiday_years=_holiday_rows(profile.holidays) if profile else [],
    )
    return render(request, "sla/profile.html", context, status=status)


def _grid_rows_with_inputs(form: ProfileForm | None, grid: dict[str, Any]) -> list[dict[str, Any]]:
    if form is None:
        return list(grid["rows"])
    return [row | {"field": form[row["day"]]} for row in grid["rows"]]


def _typed_schedule(data: Mapping[str, Any]) -> tuple[dict[str, list[list[str]]], dict[str, str]]:
    schedule: dict[str, list[list[str]]] = {}
    problems: dict[str, str] = {}
    for day in WEEKDAYS:
        pairs, problem = day_preview(str(data.get(day, "")), day)
        schedule[day] = pairs
        if problem:
            problems[day] = problem
    return schedule, problems


@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=SLA_REFUSAL)
def profile_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, initial={"timezone": "UTC"})
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.business_hours_create(
                name=form.cleaned_data["name"],
                timezone=form.cleaned_data["timezone"],
                schedule=form.cleaned_data["schedule"],
                holidays=form.cleaned_data["holiday_list"],
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"Business hours '{profile.name}' created.")
            return HttpResponseRedirect(reverse("sla-profile", args=[profile.pk]))
    return _profile_page(request, None, form=form, status=400 if form.errors else 200)


@provider_page
def profile_detail(request: AuthenticatedHttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(BusinessHours, pk=profile_id)
    if request.method != "POST":
        return _profile_page(request, profile)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.business_hours_update(
                business_hours=profile,
                changes=services.ProfileChanges(
                    name=form.cleaned_data["name"],
                    timezone=form.cleaned_data["timezone"],
                    schedule=form.cleaned_data["schedule"],
                    holidays=form.cleaned_data["holiday_list"],
                ),
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
            profile.refresh_from_db()
        else:
            messages.success(request, f"Business hours '{profile.name}' saved.")
            return HttpResponseRedirect(reverse("sla-profile", args=[profile.pk]))
    return _profile_page(request, profile, form=form, status=400)


@require_POST
@provider_page
def profile_preview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The week grid's tracks for what is typed in the day inputs (HTMX out-of-band swaps)."""
    schedule, problems = _typed_schedule(WeekForm(request.POST).days())
    return render(request, "sla/_week_preview.html", {"grid": week_grid(schedule, problems)})


@require_POST
@provider_page
def profile_fill(request: AuthenticatedHttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(BusinessHours, pk=profile_id)
    fill_form = FillHolidaysForm(request.POST)
    if fill_form.is_valid():
        data = fill_form.cleaned_data
        try:
            before = len(profile.holidays)
            profile = services.holidays_fill(
                business_hours=profile,
                country=data["country"],
                subdivision=data["subdivision"] or None,
                years=services.years_parse(data["years"]),
            )
        except WORKFLOW_ERRORS as exc:
            fill_form.add_workflow_error(exc)
        else:
            added = len(profile.holidays) - before
            messages.success(
                request, f"{added} holiday{'s' if added != 1 else ''} of {data['country'].upper()} added."
            )
            return HttpResponseRedirect(reverse("sla-profile", args=[profile.pk]) + "#holidays")
    return _profile_page(request, profile, fill_form=fill_form, status=400)


@require_POST
@provider_page
def profile_delete(request: AuthenticatedHttpRequest, profile_id: int) -> HttpResponse:
    profile = get_object_or_404(BusinessHours, pk=profile_id)
    return _delete(
        request,
        lambda: services.business_hours_delete(business_hours=profile),
        kept=reverse("sla-profile", args=[profile.pk]),
        gone=reverse("sla-profiles"),
        done=f"Business hours '{profile.name}' deleted.",
    )


# --- policies -----------------------------------------------------------------------------------


def _target_rows(targets: Mapping[str, Any], form: PolicyForm | None = None) -> list[dict[str, Any]]:
    """The targets table: one row per priority, a cell per clock with minutes and hours."""
    rows = []
    for priority in PRIORITIES:
        cells = []
        for clock in TARGET_CLOCKS:
            field = form[target_field(priority, clock)] if form is not None else None
            value = field.value() if field is not None else (targets.get(priority) or {}).get(clock)
            try:
                text = duration_text(int(str(value))) if value not in (None, "") else ""
            except ValueError:
                text = ""
            cells.append({"clock": clock, "minutes": value, "text": text, "field": field})
        rows.append({"priority": priority, "cells": cells})
    return rows


@require_safe
@provider_page
def policy_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    policies = SlaPolicy.objects.select_related("business_hours").order_by("-is_default", "name", "pk")
    rows = [{"policy": policy, "targets": _target_rows(policy.targets)} for policy in policies]
    return render(request, "sla/policy_list.html", _sla_context(request, "policies", rows=rows))


def _policy_page(
    request: AuthenticatedHttpRequest, policy: SlaPolicy | None, form: PolicyForm | None, *, status: int = 200
) -> HttpResponse:
    context = _sla_context(
        request,
        "policies",
        policy=policy,
        form=form,
        targets=_target_rows(policy.targets if policy else {}, form),
        clocks=[clock.replace("_", " ").capitalize() for clock in TARGET_CLOCKS],
    )
    return render(request, "sla/policy.html", context, status=status)


@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=SLA_REFUSAL)
def policy_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PolicyForm(request.POST or None, initial={"warning_percent": 80})
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.sla_policy_create(
                name=form.cleaned_data["name"],
                targets=form.targets(),
                business_hours=form.cleaned_data["business_hours"],
                warning_percent=form.cleaned_data["warning_percent"],
                is_default=form.cleaned_data["is_default"],
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"Policy '{policy.name}' created.")
            return HttpResponseRedirect(reverse("sla-policy", args=[policy.pk]))
    return _policy_page(request, None, form, status=400 if form.errors else 200)


@provider_page
def policy_detail(request: AuthenticatedHttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy.objects.select_related("business_hours"), pk=policy_id)
    if not _can_edit(request):
        return _policy_page(request, policy, None)
    initial = {
        "name": policy.name,
        "business_hours": policy.business_hours_id,
        "warning_percent": policy.warning_percent,
        "is_default": policy.is_default,
        **PolicyForm.initial_for(policy.targets),
    }
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.sla_policy_update(
                policy=policy,
                changes=services.PolicyChanges(
                    name=form.cleaned_data["name"],
                    targets=form.targets(),
                    business_hours=form.cleaned_data["business_hours"],
                    warning_percent=form.cleaned_data["warning_percent"],
                    is_default=form.cleaned_data["is_default"],
                ),
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
            policy.refresh_from_db()
        else:
            messages.success(request, f"Policy '{policy.name}' saved.")
            return HttpResponseRedirect(reverse("sla-policy", args=[policy.pk]))
    return _policy_page(request, policy, form, status=400 if form.errors else 200)


@require_POST
@provider_page
def policy_delete(request: AuthenticatedHttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=policy_id)
    return _delete(
        request,
        lambda: services.sla_policy_delete(policy=policy),
        kept=reverse("sla-policy", args=[policy.pk]),
        gone=reverse("sla-policies"),
        done=f"Policy '{policy.name}' deleted.",
    )


def _delete(
    request: AuthenticatedHttpRequest, delete: Callable[[], object], *, kept: str, gone: str, done: str
) -> HttpResponse:
    """Run a delete workflow; a refusal goes back to the object's page with its reasons."""
    try:
        delete()
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        return HttpResponseRedirect(kept)
    messages.success(request, done)
    return HttpResponseRedirect(gone)


# --- provider admins' tools: re-applying SLAs, the simulator -------------------------------------


@require_http_methods(["GET", "POST"])
@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def reapply(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """GET: what re-applying SLAs would change for this customer's open tickets. POST: apply
    the confirmed preview (by its fingerprint), or say it is stale and show the new one."""
    context: dict[str, Any] = {"customer": access.customer, "errors": []}
    status, sections = 200, []
    if request.method == "POST":
        try:
            applied = reapply_commit(
                customer=access.customer,
                by=access.user,
                fingerprint=ReapplyForm(request.POST).confirmed(),
                now=timezone.now(),
            )
            sections.append({"id": "reapply-result", "title": "Applied", "preview": applied, "applied": True})
        except RuleViolation as exc:
            status, context["errors"] = problem_of(exc)
    preview = reapply_preview(customer=access.customer, now=timezone.now())
    title = "What is left to re-apply" if sections else "Preview"
    sections.append({"id": "reapply-preview", "title": title, "preview": preview, "applied": False})
    return render(request, "sla/reapply.html", context | {"sections": sections}, status=status)


EXAMPLE_EVENTS = "2026-11-24T11:00Z pending\n2026-11-24T13:00Z open"
EVENT_INDEX = re.compile(r"^events\[(\d+)\]")


@require_http_methods(["GET", "POST"])
@provider_page(write=Reach.STAFF)  # the simulator changes nothing
def simulator(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The engine on a made-up ticket: a policy (or a profile and targets), a priority, the
    creation instant and status changes, one per line ("2026-11-24T11:00Z pending")."""
    values: Mapping[str, Any] = request.POST if request.method == "POST" else _example_values()
    context: dict[str, Any] = {
        "values": values,
        "policies": SlaPolicy.objects.order_by("name"),
        "profiles": BusinessHours.objects.order_by("name"),
        "priorities": PRIORITIES,
        "statuses": ("open", "pending", "resolved", "closed"),
        "errors": [],
        "viewer_timezone": timezone.get_current_timezone_name(),
    }
    if request.method != "POST":
        return render(request, "sla/simulator.html", context)
    form = SimulatorForm(request.POST)
    data, lines, problems = form.simulation_input()
    if not problems:
        serializer = SimulateSerializer(data=data)
        if serializer.is_valid():
            try:
                result = simulation_json(serializer.simulation())
            except RuleViolation as exc:  # a due time past the supported range
                problems = problem_of(exc)[1]
            else:
                context["result"] = result
                context["clocks"] = [
                    (CLOCK_LABELS[name], result[name]) for name in (FIRST_RESPONSE, RESOLUTION)
                ]
        else:
            problems = [_line_named(sentence, lines) for sentence in _sentences(serializer.errors)]
    context["errors"] = problems
    return render(request, "sla/simulator.html", context, status=400 if problems else 200)


def _example_values() -> dict[str, str]:
    return {
        "priority": "P3",
        "created_at": "2026-11-24T10:00Z",
        "events": EXAMPLE_EVENTS,
        "targets": json.dumps(STANDARD_TARGETS, indent=1),
    }


def _sentences(errors: Any, prefix: str = "") -> list[str]:
    """A serializer's errors (nested for the events) as "field: message" sentences."""
    if isinstance(errors, Mapping):  # a nested list's errors come keyed by index
        return [
            sentence
            for key, value in errors.items()
            for sentence in _sentences(value, _error_key(prefix, key))
        ]
    if isinstance(errors, list) and errors and all(isinstance(item, str) for item in errors):
        return [f"{prefix}: {' '.join(errors)}" if prefix else " ".join(errors)]
    if isinstance(errors, list):
        return [
            sentence
            for index, value in enumerate(errors)
            if value
            for sentence in _sentences(value, _error_key(prefix, index))
        ]
    return [f"{prefix}: {errors}"]


def _error_key(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def _line_named(sentence: str, lines: list[int]) -> str:
    """``events[1].at: ...`` → ``events line 3 (at): ...``: people count lines, not indexes."""
    match = EVENT_INDEX.match(sentence)
    if match is None or int(match.group(1)) >= len(lines):
        return sentence
    rest = sentence[match.end() :].lstrip(".")
    field, _, message = rest.partition(":")
    label = f"events line {lines[int(match.group(1))]}"
    return f"{label} ({field}):{message}" if field and message else f"{label}{rest}"
