"""The ticket page costs the same number of queries whatever the thread's length (issue 15's
acceptance: asserted at 5 and 50 comments), on the console and in the portal."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console, portal
from tickets import workflows
from tickets.models import Ticket
from tickets.workflows import NewTicket


def _ticket_with(cast: Cast, comments: int) -> Ticket:
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=NewTicket(subject=f"{comments} comments")
        )
        for n in range(comments):
            author = cast.bob if n % 2 else cast.acme_user
            public = author == cast.acme_user or n % 5 != 3  # a private note now and then
            workflows.comment_add(
                customer=cast.acme, ticket=ticket, by=author, body=f"message {n}", public=public
            )
    return ticket


def _queries(client: Any, path: str) -> int:
    client.get(path)  # warm: sessions, content types, the host cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_the_ticket_page_costs_the_same_at_5_and_50_comments(cast: Cast) -> None:
    short, long = _ticket_with(cast, 5), _ticket_with(cast, 50)
    agent = console(cast.bob)
    assert _queries(agent, f"/customers/acme/tickets/{short.pk}/") == _queries(
        agent, f"/customers/acme/tickets/{long.pk}/"
    )
    customer = portal(cast.acme_user)
    assert _queries(customer, f"/tickets/{short.pk}/") == _queries(customer, f"/tickets/{long.pk}/")


def test_the_ticket_page_reads_the_requester_with_the_ticket(cast: Cast) -> None:
    """The SLA card names the requester's override: their profile comes with the ticket (a join)
    and their name from the user the ticket already holds, not from two more queries (found by
    profiling the console's ticket page, the slowest page of ``bench/load``)."""
    ticket = _ticket_with(cast, 1)
    agent = console(cast.bob)
    path = f"/customers/acme/tickets/{ticket.pk}/"
    agent.get(path)
    with CaptureQueriesContext(connection) as captured:
        assert agent.get(path).status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if sql.startswith('SELECT "people_customeruser"."id"')]
    user_id = str(cast.acme_user.pk)
    assert not [sql for sql in statements if sql.endswith(f'WHERE "accounts_user"."id" = {user_id} LIMIT 21')]
