"""Time-based rules ("pending for 5 business days"): the beat job that fires them.

A ticket qualifies for a time rule once it has stayed in the rule's status (``wait.status``)
for ``wait.for`` hours, business hours or business days, counted from the instant it entered
that status (the start of its current SLA timeline segment for open and pending, its
``resolved_at`` or ``closed_at``). Business time runs on the ticket's own SLA calendar (the
business hours of its policy, the customer's in the usual case; 24x7 without one): a business
day is a local day with open hours that is not a holiday, and N business days are over at the
same local time on the Nth of them.

Each rule fires once per ticket per stretch: ``TimeFiring`` (rule, customer, ticket, since)
is written in the transaction of the rule's actions, unique, so a second run or a concurrent
one fires nothing more. A ticket that leaves the status and enters it again starts a new
stretch and may fire again: "pending for 5 days" is about the current wait.

The job walks the customers that have time rules (a provider-wide time rule: every active
customer) and, in each, the tickets in the rules' statuses; that is one query per customer with
time rules, whatever the number of rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from automations.engine import LoadedRule, rule_apply
from automations.language import Facts, matches
from automations.models import Event, Rule, TimeFiring
from sla.engine.calendar import AlwaysOpen, BusinessCalendar, calendar_for
from sla.engine.clocks import CLOCK_STATE
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.models import Status, Ticket

logger = logging.getLogger(__name__)


def stretch_start(ticket: Ticket) -> datetime | None:
    """The instant ``ticket`` entered its current status."""
    if ticket.status == Status.RESOLVED:
        return ticket.resolved_at
    if ticket.status == Status.CLOSED:
        return ticket.closed_at
    segments = ticket.sla_segments
    if segments and segments[-1].get("state") == CLOCK_STATE[ticket.status]:
        return datetime.fromisoformat(segments[-1]["start"])
    return ticket.created_at if ticket.status == Status.OPEN else None


def _business_days_later(calendar: BusinessCalendar | AlwaysOpen, start: datetime, days: int) -> datetime:
    if isinstance(calendar, AlwaysOpen):
        return start + timedelta(days=days)
    local = start.astimezone(calendar.zone)
    day: date = local.date()
    counted = 0
    for _ in range(days * 14 + 60):  # holidays never take more than that (a broken profile: give up)
        day += timedelta(days=1)
        if calendar.hours[day.weekday()] and day.toordinal() not in calendar.holidays:
            counted += 1
            if counted == days:
                return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=calendar.zone)
    raise ValueError("the business hours have no business days")


def due_after(ticket: Ticket, since: datetime, wait: dict[str, Any]) -> datetime:
    """When a stretch that began at ``since`` has lasted the rule's wait."""
    amount, unit = wait["for"], wait["unit"]
    if unit == "hours":
        return since + timedelta(hours=amount)
    calendar = calendar_for((ticket.sla_snapshot or {}).get("business_hours"))
    if unit == "business_hours":
        return calendar.add(since, timedelta(hours=amount))
    return _business_days_later(calendar, since, amount)


def waited_since(ticket: Ticket, wait: dict[str, Any], now: datetime) -> datetime | None:
    """The start of the stretch if ``ticket`` has waited long enough in the rule's status."""
    if ticket.status != wait["status"]:
        return None
    since = stretch_start(ticket)
    if since is None or due_after(ticket, since, wait) > now:
        return None
    return since


@dataclass
class TimeRun:
    customers: int = 0
    fired: int = 0


def time_rules_run(*, now: datetime | None = None) -> TimeRun:
    """Fire every enabled time rule on the tickets that have waited long enough (beat)."""
    now = now or timezone.now()
    rules = [
        LoadedRule.of(rule)
        for rule in Rule.objects.filter(event=Event.TIME, enabled=True).order_by("position", "id")
    ]
    provider = [rule for rule in rules if rule.customer_id is None]
    own: dict[int, list[LoadedRule]] = {}
    for rule in rules:
        if rule.customer_id is not None:
            own.setdefault(rule.customer_id, []).append(rule)
    customers = Customer.objects.active()
    if not provider:
        customers = customers.filter(pk__in=own)
    result = TimeRun()
    for customer in customers.order_by("pk"):
        applicable = [*provider, *own.get(customer.pk, [])]
        if not applicable:
            continue
        result.customers += 1
        try:
            with customer_schema(customer):
                result.fired += _fire(customer, applicable, now)
        except Exception:  # one customer's failure leaves the others' rules running
            logger.exception("time rules of %s failed", customer.slug)
    return result


def _fire(customer: Customer, rules: list[LoadedRule], now: datetime) -> int:
    statuses = {rule.wait["status"] for rule in rules if rule.wait}
    tickets = list(Ticket.objects.filter(status__in=statuses, merged_into__isnull=True).order_by("pk"))
    if not tickets:
        return 0
    done = set(
        TimeFiring.objects.filter(customer=customer, ticket_id__in=[t.pk for t in tickets]).values_list(
            "rule_id", "ticket_id", "since"
        )
    )
    fired = 0
    for rule in rules:
        for ticket in tickets:
            since = waited_since(ticket, rule.wait or {}, now)
            if since is None or (rule.id, ticket.pk, since) in done:
                continue
            if not matches(rule.conditions, Facts.of(ticket)):
                continue
            if _fire_once(customer, ticket, rule, since, now):
                fired += 1
    return fired


def _fire_once(customer: Customer, ticket: Ticket, rule: LoadedRule, since: datetime, now: datetime) -> bool:
    """The firing recorded and the actions applied in one transaction: both or neither. A rule
    that did nothing (its conditions no longer hold under the lock, its owner is inactive) is
    not recorded as fired: it may fire later in the same stretch."""
    try:
        with transaction.atomic():
            TimeFiring.objects.create(
                rule_id=rule.id, customer=customer, ticket_id=ticket.pk, since=since, fired_at=now
            )
            if not rule_apply(customer, ticket.pk, rule):
                transaction.set_rollback(True)
                return False
    except IntegrityError:  # fired by a concurrent run
        return False
    return True
