"""Shared by the ticket tests: writes made directly (not through a request) run as the named
job "tests", and one way to open a ticket without going through the API."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from tenants.schema import customer_schema
from tests.conftest import Cast
from tickets import workflows
from tickets.models import Ticket


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


def make_ticket(
    cast: Cast, by: User, subject: str = "VPN down", assignee: User | None = None, **kw: Any
) -> Ticket:
    """A ticket opened by ``by`` in their customer (Acme for agents); assigned by Alice if asked."""
    customer = by.customer or cast.acme
    with customer_schema(customer):
        ticket = workflows.ticket_create(
            customer=customer, by=by, new=workflows.NewTicket(subject=subject, **kw)
        )
        if assignee is not None:
            changes = workflows.TicketChanges(assignee=assignee)
            ticket = workflows.ticket_update(customer=customer, ticket=ticket, by=cast.alice, changes=changes)
    return ticket
