"""Shared by the SLA tests: the profile of sla.md's worked examples, policies, tickets at
chosen instants (time-machine), and direct writes attributed to the job "tests"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import User
from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets import workflows
from tickets.models import Ticket

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


def uk_office() -> BusinessHours:
    hours, _ = BusinessHours.objects.get_or_create(
        name="UK office",
        defaults={
            "timezone": "Europe/London",
            "schedule": {**WEEKDAYS_9_TO_5, "sat": [], "sun": []},
            "holidays": ["2026-12-25", "2026-12-28"],
        },
    )
    return hours


def make_policy(name: str, hours: BusinessHours | None = None, **targets: dict[str, int]) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(
        name=name, business_hours=hours, targets={**STANDARD_TARGETS, **targets}, warning_percent=80
    )
    return policy


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc, arg-type]


@pytest.fixture
def clock() -> Iterator[Any]:
    """``clock(at)`` moves the frozen time to ``at`` (no ticking)."""
    traveller: list[Any] = []

    def move(at: datetime) -> None:
        if traveller:
            traveller.pop().stop()
        travel = time_machine.travel(at, tick=False)
        travel.start()
        traveller.append(travel)

    yield move
    if traveller:
        traveller.pop().stop()


def open_ticket(customer: Customer, by: User, subject: str = "Printer jam", **kw: Any) -> Ticket:
    with customer_schema(customer):
        return workflows.ticket_create(
            customer=customer, by=by, new=workflows.NewTicket(subject=subject, **kw)
        )


def change(customer: Customer, ticket: Ticket, by: User, **changes: Any) -> Ticket:
    with customer_schema(customer):
        return workflows.ticket_update(
            customer=customer, ticket=ticket, by=by, changes=workflows.TicketChanges(**changes)
        )


def reply(customer: Customer, ticket: Ticket, by: User, body: str = "Could you restart it?") -> None:
    with customer_schema(customer):
        workflows.comment_add(customer=customer, ticket=ticket, by=by, body=body)
