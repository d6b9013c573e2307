"""SLA on the pages people read: the SLA card of a console ticket (why this policy, both
clocks, the timeline), what the portal tells a customer about their ticket, and two console
tools for provider admins: re-applying SLAs to a customer's open tickets (preview, then
confirm exactly that preview) and the simulator (the engine on instants typed in a form).

The numbers all come from the engine (``sla.explain``, ``sla.reapply``, ``sla.simulate``); this
module only arranges them for templates, so the pages cannot disagree with the API."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from serviflow.errors import RuleViolation
from serviflow.pages import problem_of, provider_admin_customer_page, provider_tool_page
from sla.calendar import calendar_for
from sla.clocks import FIRST_RESPONSE, PAUSED, RESOLUTION, segments_from
from sla.engine import PolicyTargetsMissing, clocks_of, targets_of
from sla.explain import clock_json, segments_json, sla_explain
from sla.models import PRIORITIES, STANDARD_TARGETS, BusinessHours, PolicySource, SlaPolicy
from sla.reapply import reapply_commit, reapply_preview
from sla.simulate import SimulateSerializer, simulate
from sla.templatetags.sla_tags import business_span
from tenants.access import CustomerAccess

if TYPE_CHECKING:
    from tenants.models import Customer
    from tickets.models import Ticket

CLOCK_LABELS = {FIRST_RESPONSE: "First response", RESOLUTION: "Resolution"}
DASH = "\u2013"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- the console ticket's SLA card ------------------------------------------------------------------


def ticket_sla_card(*, customer: Customer, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """Everything ``sla.explain`` says about ``ticket``, labelled for the console's SLA card."""
    if not ticket.sla_snapshot:
        return None
    explained = sla_explain(customer=customer, ticket=ticket, now=now)
    snapshot = explained["snapshot"]
    profile = snapshot.get("business_hours")
    return explained | {
        "source_label": _source_label(explained["source"]),
        "chain": [step | {"label": _source_label(step["source"])} for step in explained["chain"]],
        "clock_list": [
            {"name": name, "label": CLOCK_LABELS[name], **clock}
            for name, clock in explained["clocks"].items()
        ],
        "profile": profile,
        "hours_text": schedule_text(profile),
        "warning_percent": snapshot.get("warning_percent", 80),
        "events": [
            event | {"clock_label": CLOCK_LABELS.get(event["clock"], event["clock"])}
            for event in explained["events"]
        ],
    }


def _source_label(source: str) -> str:
    return str(PolicySource(source).label) if source in PolicySource.values else source


def schedule_text(profile: Mapping[str, Any] | None) -> str:
    """A business-hours profile in a line, "Mon-Fri 09:00-17:00 (Europe/London)" (with en dashes),
    or 24x7 without one."""
    if not profile:
        return "24x7 (every minute counts)"
    schedule = profile.get("schedule") or {}
    groups: list[tuple[list[str], str]] = []  # consecutive days with the same hours
    for day in WEEKDAYS:
        hours = ", ".join(f"{start}{DASH}{end}" for start, end in schedule.get(day) or [])
        if not hours:
            continue
        if groups and groups[-1][1] == hours and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    days = "; ".join(
        f"{_day(names[0])}{DASH}{_day(names[-1])} {hours}" if len(names) > 1 else f"{_day(names[0])} {hours}"
        for names, hours in groups
    )
    return f"{days} ({profile.get('timezone', 'UTC')})"


def _day(name: str) -> str:
    return name.capitalize()


# --- the portal: what the customer is promised ---------------------------------------------------------


def portal_sla(*, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """The customer's view of their ticket's SLA: the promise for its priority, the due times,
    the pauses that did not count and any breach, and nothing of how the policy was chosen."""
    snapshot = ticket.sla_snapshot
    if not snapshot:
        return None
    try:
        targets = targets_of(snapshot, ticket.priority)
    except PolicyTargetsMissing:
        return None
    profile = snapshot.get("business_hours")
    note = "of business time" if profile else "around the clock"
    views = clocks_of(ticket, now)
    clocks = []
    for name, view in views.items():
        clock = clock_json(view, now)
        fact = getattr(ticket, f"{name}_breached_at")
        if fact is not None:
            clock |= {"breached": True, "breached_at": fact}
        clocks.append(
            clock
            | {
                "name": name,
                "label": CLOCK_LABELS[name],
                "promise": f"{CLOCK_LABELS[name].lower()} within {business_span(targets[name])} {note}",
            }
        )
    segments = segments_json(calendar_for(profile), segments_from(ticket.sla_segments), now)
    pauses = [
        {"start": segment["start"], "end": segment["end"], "business_minutes": segment["business_minutes"]}
        for segment in segments
        if segment["state"] == PAUSED
    ]
    return {
        "policy_name": (snapshot.get("policy") or {}).get("name", ""),
        "priority": ticket.priority,
        "clocks": clocks,
        "hours_text": schedule_text(profile),
        "pauses": pauses,
        "paused_minutes": round(sum(pause["business_minutes"] for pause in pauses), 2),
        "paused_now": bool(segments) and segments[-1]["state"] == PAUSED,
    }


# --- provider admins' tools -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@provider_admin_customer_page
def reapply(request: HttpRequest, access: CustomerAccess) -> HttpResponse:
    """GET: what re-applying SLAs would change for this customer's open tickets. POST: apply
    the confirmed preview (by its fingerprint), or say it is stale and show the new one."""
    context: dict[str, Any] = {"customer": access.customer, "errors": []}
    status, sections = 200, []
    if request.method == "POST":
        try:
            applied = reapply_commit(
                customer=access.customer,
                by=access.user,
                fingerprint=request.POST.get("fingerprint", ""),
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
@provider_tool_page
def simulator(request: HttpRequest) -> HttpResponse:
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
    data, lines, problems = _simulation_input(request.POST)
    if not problems:
        serializer = SimulateSerializer(data=data)
        if serializer.is_valid():
            result = simulate(dict(serializer.validated_data))
            context["result"] = result
            context["clocks"] = [(CLOCK_LABELS[name], result[name]) for name in (FIRST_RESPONSE, RESOLUTION)]
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


def _simulation_input(post: QueryDict) -> tuple[dict[str, Any], list[int], list[str]]:
    """The simulator's request body from the form, the form line of each event and what could
    not be read at all (the serializer judges the rest)."""
    problems: list[str] = []
    data: dict[str, Any] = {"priority": post.get("priority", ""), "created_at": post.get("created_at", "")}
    if post.get("policy"):
        data["policy"] = post["policy"]
    else:
        hours = post.get("business_hours", "")
        data["business_hours"] = int(hours) if hours.isdigit() else None
        try:
            data["targets"] = json.loads(post.get("targets") or "")
        except ValueError:
            problems.append(
                'targets: write JSON, e.g. {"P1": {"first_response": 60, "resolution": 240}, ...}, '
                "or choose a policy."
            )
    for name in ("warning_percent", "first_response_at"):
        value = str(post.get(name, "")).strip()
        if value:
            data[name] = value
    events: list[dict[str, str]] = []
    lines: list[int] = []
    for number, line in enumerate(post.get("events", "").splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2:
            problems.append(
                f"events line {number}: write an instant and a status, e.g. 2026-11-24T11:00Z pending."
            )
            continue
        events.append({"at": words[0], "status": words[1]})
        lines.append(number)
    data["events"] = events
    return data, lines, problems


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
