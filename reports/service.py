"""The service report of one customer and month (``spec/reports.md``): every monthly figure
(``reports.figures``, the same statements the list runs, for one customer), and what a quarterly
business review shows beside them: tickets per week, SLA met % per priority, the breached tickets
with their policy and reason, time by agent and by ticket, assets by type, and satisfaction.

The report is plain data (JSON types only, instants as ISO 8601 text), so that an issued
snapshot is the very bytes a later request returns (``reports.issuing``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import User
from contracts.models import Contract, PrepaidEntry, TimeEntry
from core.parsers import zone_or_utc
from reports.figures import Bounds, bounds_of, monthly_figures, next_month
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.index.models import TicketIndexEntry
from tickets.index.services import display_number
from tickets.models import Comment, Party, Priority, Ticket
from tickets.satisfaction.models import Rating, Score
from tickets.types.values import form_fields, value_shown, visible_fields

CLOCK_NAMES = {"first_response": "first response", "resolution": "resolution"}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


def weeks_of(month: date) -> list[tuple[date, date]]:
    """The month cut into weeks that start on Mondays (the first and last may be short)."""
    weeks: list[tuple[date, date]] = []
    day, end = month, next_month(month)
    while day < end:
        last = min(day + timedelta(days=6 - day.weekday()), end - timedelta(days=1))
        weeks.append((day, last))
        day = last + timedelta(days=1)
    return weeks


def service_report(customer: Customer, month: date, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    bounds = bounds_of(customer, month)
    figures = monthly_figures([customer], month)[customer.pk]
    with customer_schema(customer):
        per_week, breached, csat, active_users, time_by_ticket = _from_schema(customer, month, bounds)
        request_fields = _request_fields(customer, bounds)
    figures["csat"] = csat
    figures["active_users"] = active_users
    return {
        "customer": {"slug": customer.slug, "name": customer.name, "timezone": customer.timezone},
        "month": f"{month:%Y-%m}",
        "period": {"from": _iso(bounds.start), "to": _iso(bounds.end)},
        "figures": figures,
        "tickets_per_week": per_week,
        "sla_by_priority": _sla_by_priority(customer, bounds),
        "breached_tickets": breached,
        "time_by_agent": time_by_agent(month, customer),
        "time_by_ticket": time_by_ticket,
        "request_fields": request_fields,
        "assets_by_type": figures["assets"],
        "contracts": _contracts(customer, month),
    }


def _from_schema(
    customer: Customer, month: date, bounds: Bounds
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], int, list[dict[str, Any]]]:
    zone = zone_or_utc(customer.timezone)
    in_month = {"created_at__gte": bounds.start, "created_at__lt": bounds.end}
    created = Counter(
        at.astimezone(zone).date()
        for at in Ticket.objects.filter(**in_month).values_list("created_at", flat=True)
    )
    per_week = [
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "tickets": sum(n for day, n in created.items() if first <= day <= last),
        }
        for first, last in weeks_of(month)
    ]
    breached: list[dict[str, Any]] = []
    clocks = Q()
    for clock in CLOCK_NAMES:
        clocks |= Q(**{f"{clock}_breached_at__gte": bounds.start, f"{clock}_breached_at__lt": bounds.end})
    for ticket in Ticket.objects.filter(clocks).order_by("number"):
        for clock, name in CLOCK_NAMES.items():
            at = getattr(ticket, f"{clock}_breached_at")
            if at is not None and bounds.start <= at < bounds.end:
                breached.append(
                    {
                        "ticket": ticket.pk,
                        "reference": display_number(customer, ticket.number),
                        "subject": ticket.subject,
                        "priority": ticket.priority,
                        "clock": clock,
                        "breached_at": _iso(at),
                        "policy": (ticket.sla_snapshot.get("policy") or {}).get("name", ""),
                        "reason": f"{name} target missed; policy applied because {ticket.sla_reason}",
                    }
                )
    ratings = Counter(
        Rating.objects.filter(rated_at__gte=bounds.start, rated_at__lt=bounds.end).values_list(
            "score", flat=True
        )
    )
    count = sum(ratings.values())
    csat: dict[str, Any] = {"count": count}
    for score in Score.values:
        csat[score] = ratings.get(score, 0)
        csat[f"{score}_pct"] = _pct(ratings.get(score, 0), count)
    people: set[int] = set(
        Ticket.objects.filter(**in_month, created_by__customer=customer).values_list(
            "created_by_id", flat=True
        )
    )
    people |= set(
        Comment.objects.filter(**in_month, author_party=Party.CUSTOMER, author__isnull=False).values_list(
            "author_id", flat=True
        )
    )
    people |= set(
        User.objects.filter(
            customer=customer, last_login__gte=bounds.start, last_login__lt=bounds.end
        ).values_list("pk", flat=True)
    )
    minutes = (
        TimeEntry.objects.filter(customer=customer, work_date__gte=month, work_date__lt=next_month(month))
        .values("ticket_id")
        .annotate(total=Sum("minutes"), billable=Sum("minutes", filter=Q(billable=True)))
        .order_by("-total", "ticket_id")
    )
    rows = list(minutes)
    titles = {
        t.pk: t
        for t in Ticket.objects.filter(pk__in=[row["ticket_id"] for row in rows]).only("number", "subject")
    }
    time_by_ticket = [
        {
            "ticket": row["ticket_id"],
            "reference": display_number(customer, titles[row["ticket_id"]].number)
            if row["ticket_id"] in titles
            else "",
            "subject": titles[row["ticket_id"]].subject if row["ticket_id"] in titles else "",
            "minutes": int(row["total"] or 0),
            "billable_minutes": int(row["billable"] or 0),
        }
        for row in rows
    ]
    return per_week, breached, csat, len(people), time_by_ticket


def _request_fields(customer: Customer, bounds: Bounds) -> list[dict[str, Any]]:
    """The tickets of the month filed as a request type, each with the values of the fields the
    customer sees (the report is read by the customer's admins too), labelled as the form the
    ticket was filed with labels them."""
    month = {"created_at__gte": bounds.start, "created_at__lt": bounds.end}
    typed = Ticket.objects.filter(**month, request_type__isnull=False).select_related(
        "request_type", "request_form"
    )
    rows = []
    for ticket in typed.order_by("number"):
        definitions = form_fields(ticket.request_form.definitions if ticket.request_form else [])
        shown = visible_fields(definitions, customer_side=True)
        values = [(field, ticket.fields[field.key]) for field in shown if field.key in ticket.fields]
        rows.append(
            {
                "ticket": ticket.pk,
                "reference": display_number(customer, ticket.number),
                "request_type": ticket.request_type.name if ticket.request_type else "",
                "fields": [
                    {"key": field.key, "label": field.label, "value": value_shown(field, value)}
                    for field, value in values
                ],
            }
        )
    return rows


def _sla_by_priority(customer: Customer, bounds: Bounds) -> list[dict[str, Any]]:
    rows = TicketIndexEntry.objects.filter(customer=customer)
    result = []
    for priority in Priority.values:
        line: dict[str, Any] = {"priority": priority}
        for clock in CLOCK_NAMES:
            ended = rows.filter(
                priority=priority,
                **{f"{clock}_ended_at__gte": bounds.start, f"{clock}_ended_at__lt": bounds.end},
            ).aggregate(n=Count("id"), met=Count("id", filter=Q(**{f"{clock}_breached_at__isnull": True})))
            line[f"{clock}_ended"] = ended["n"]
            line[f"{clock}_met_pct"] = _pct(ended["met"], ended["n"])
        result.append(line)
    return result


def time_by_agent(month: date, customer: Customer | None = None) -> list[dict[str, Any]]:
    """Each agent's time with work dates in ``month`` (of ``customer``, or of every customer),
    most first."""
    entries = TimeEntry.objects.filter(work_date__gte=month, work_date__lt=next_month(month))
    if customer is not None:
        entries = entries.filter(customer=customer)
    rows = (
        entries.values("agent_id", "agent__name")
        .annotate(total=Sum("minutes"), billable=Sum("minutes", filter=Q(billable=True)))
        .order_by("-total", "agent__name", "agent_id")
    )
    return [
        {
            "agent": row["agent_id"],
            "name": row["agent__name"],
            "minutes": int(row["total"] or 0),
            "billable_minutes": int(row["billable"] or 0),
        }
        for row in rows
    ]


def _contracts(customer: Customer, month: date) -> list[dict[str, Any]]:
    """The contracts in force during the month, with each prepaid block's balance at its end."""
    bounds = bounds_of(customer, month)
    contracts = (
        Contract.objects.filter(customer=customer, starts_on__lt=next_month(month))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=month))
        .select_related("sla_policy")
        .order_by("starts_on", "id")
    )
    balances: dict[int, int] = defaultdict(int)
    for contract_id, minutes in PrepaidEntry.objects.filter(
        contract__in=contracts, at__lt=bounds.end
    ).values_list("contract_id", "minutes"):
        balances[contract_id] += minutes
    return [
        {
            "id": contract.pk,
            "name": contract.name,
            "starts_on": contract.starts_on.isoformat(),
            "ends_on": contract.ends_on.isoformat() if contract.ends_on else None,
            "sla_policy": contract.sla_policy.name if contract.sla_policy else None,
            "prepaid_hours": str(contract.prepaid_hours) if contract.prepaid_hours is not None else None,
            "balance_minutes_at_month_end": balances[contract.pk]
            if contract.prepaid_hours is not None
            else None,
        }
        for contract in contracts
    ]
