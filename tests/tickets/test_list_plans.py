"""A customer's ticket lists stay flat in the customer's size: each list's real query (captured
from the request that runs it) is planned as an index scan in the list's order that stops after
the page, never a scan of the whole table followed by a sort; and the API's ``count`` is read
from the customer's ticket counter when nothing narrows the list, without ``COUNT(*)``."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from people.models import CustomerUser
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import portal
from tickets.filtersets import TICKET_ORDERINGS
from tickets.models import Priority, Status, Ticket, TicketNumber

TICKETS = "/api/v1/customers/acme/tickets/"
SIZE = 6000  # enough rows that a full scan and a sort would cost the planner more than the index


@pytest.fixture
def many_tickets(cast: Cast) -> int:
    """SIZE tickets in Acme (model instances, one bulk_create), half of them requested by
    acme-user, the counter moved on as ticket_create would have; then ANALYZE."""
    rng = random.Random(14)
    now = timezone.now()
    with customer_schema(cast.acme):
        requesters = [CustomerUser.objects.get(user=user) for user in (cast.acme_user, cast.acme_user2)]
        first = (TicketNumber.objects.values_list("last_number", flat=True).first() or 0) + 1
        tickets = []
        for n in range(first, first + SIZE):
            created = now - timedelta(minutes=rng.randrange(500_000))
            status = rng.choice([Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED])
            profile = requesters[n % 2]
            tickets.append(
                Ticket(
                    number=n,
                    subject=f"Plan ticket {n}",
                    status=status,
                    priority=rng.choice(Priority.values),
                    requester=profile,
                    requester_user=profile.user,
                    created_by_job="tests",
                    created_at=created,
                    updated_at=created + timedelta(minutes=rng.randrange(10_000)),
                    closed_at=created if status == Status.CLOSED else None,
                )
            )
        Ticket.objects.bulk_create(tickets, batch_size=2000)
        TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": first + SIZE - 1})
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")
        return Ticket.objects.count()


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


def page_query(captured: CaptureQueriesContext) -> str:
    """The statement that read the page of tickets (the one with a LIMIT)."""
    statements = [query["sql"] for query in captured.captured_queries]
    pages = [sql for sql in statements if '"tickets_ticket"' in sql and "LIMIT" in sql]
    assert len(pages) == 1, statements
    return pages[0]


def assert_indexed(cast: Cast, query: str, what: str) -> str:
    """EXPLAIN ``query`` in Acme: the tickets are read through an index, no node scans the whole
    table, no node sorts; returns the index's name."""
    with customer_schema(cast.acme), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {query}")
        (raw,) = cursor.fetchone()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = _nodes(plan)
    text = json.dumps(plan, indent=1)
    on_tickets = [node for node in nodes if node.get("Relation Name") == "tickets_ticket"]
    assert on_tickets, f"{what}: no scan of tickets_ticket?\n{text}"
    for node in on_tickets:
        assert node["Node Type"] in ("Index Scan", "Index Only Scan"), f"{what}: {node['Node Type']}\n{text}"
    assert not [node for node in nodes if "Sort" in node["Node Type"]], f"{what}: sorts\n{text}"
    assert plan["Node Type"] == "Limit", f"{what}: the page does not stop early\n{text}"
    return str(on_tickets[0]["Index Name"])


@pytest.mark.parametrize("who", ["bob", "acme_admin", "acme_user"])
def test_every_ordering_of_the_api_list_reads_an_index_in_order(
    cast: Cast, many_tickets: int, who: str
) -> None:
    user = getattr(cast, who)
    client = api_for(user)
    for field in TICKET_ORDERINGS:
        for ordering in (field, f"-{field}"):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(f"{TICKETS}?ordering={ordering}")
            assert response.status_code == 200, response.content
            rows = response.json()["results"]
            assert len(rows) == 50
            index = assert_indexed(cast, page_query(captured), f"{who} ?ordering={ordering}")
            assert field.split("_")[0] in index, (ordering, index)
    # The default order, and a status filter with it.
    for query in ("", "?status=open"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{TICKETS}{query}").status_code == 200
        assert_indexed(cast, page_query(captured), f"{who} {query or 'default order'}")


def test_the_unnarrowed_count_comes_from_the_counter_and_is_exact(cast: Cast, many_tickets: int) -> None:
    with CaptureQueriesContext(connection) as captured:
        body = api_for(cast.bob).get(TICKETS).json()
    assert body["count"] == many_tickets
    assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert body["next"] and body["previous"] is None
    # Narrowed, it is counted; the counter is never used for a filtered list or a requester's own.
    with customer_schema(cast.acme):
        open_ones = Ticket.objects.filter(status=Status.OPEN).count()
        theirs = Ticket.objects.filter(requester_user=cast.acme_user).count()
    assert api_for(cast.bob).get(f"{TICKETS}?status=open").json()["count"] == open_ones
    assert api_for(cast.acme_user).get(TICKETS).json()["count"] == theirs
    # The last page ends where the count says, and one past it is 404.
    last = -(-many_tickets // 200)
    response = api_for(cast.bob).get(f"{TICKETS}?page_size=200&page={last}")
    assert response.status_code == 200 and len(response.json()["results"]) == many_tickets - (last - 1) * 200
    assert api_for(cast.bob).get(f"{TICKETS}?page_size=200&page={last + 1}").status_code == 404


def test_the_counter_follows_creations_through_the_api(cast: Cast) -> None:
    client = api_for(cast.acme_user)
    before = api_for(cast.bob).get(TICKETS).json()["count"]
    for n in range(3):
        assert client.post(TICKETS, {"subject": f"Count me {n}"}, format="json").status_code == 201
    with customer_schema(cast.acme):
        real = Ticket.objects.count()
    assert api_for(cast.bob).get(TICKETS).json()["count"] == before + 3 == real


@pytest.mark.parametrize("who", ["acme_admin", "acme_user"])
def test_the_portal_list_reads_an_index_in_order(cast: Cast, many_tickets: int, who: str) -> None:
    browser = portal(getattr(cast, who), "acme")
    for show in ("all", "open", "closed"):
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(f"/?show={show}").status_code == 200
        query = page_query(captured)
        if show == "all":
            assert_indexed(cast, query, f"portal {who} show=all")
        else:  # a status filter: read in order through an index, never the whole table and a sort
            with customer_schema(cast.acme), connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {query}")
                (raw,) = cursor.fetchone()
            nodes = _nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], (show, nodes)
