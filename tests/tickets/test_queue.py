"""The unified queue (GET /api/v1/tickets/), its index, the rebuild command and query counts."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.index.models import TicketIndexEntry
from tickets.models import Ticket

QUEUE = "/api/v1/tickets/"


def subjects(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["subject"] for item in response.json()["results"]]


def test_agents_see_only_their_customers_and_the_most_urgent_first(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "older acme")
    make_ticket(cast, cast.globex_user, "globex one")
    make_ticket(cast, cast.acme_user, "newest acme")
    bob = subjects(api_for(cast.bob).get(QUEUE + "?status=open,pending"))
    # same priority and policy: the older ticket is due first
    assert bob.index("older acme") < bob.index("newest acme") and "globex one" not in bob
    charlie = subjects(api_for(cast.charlie).get(QUEUE))
    assert "globex one" in charlie and not {"older acme", "newest acme"} & set(charlie)
    alice = subjects(api_for(cast.alice).get(QUEUE))
    assert {"older acme", "globex one", "newest acme"} <= set(alice)
    assert subjects(api_for(cast.acme_it).get(QUEUE)) == [s for s in bob if s != "globex one"]


def test_items_carry_the_customer_and_the_contract_fields(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "fields", priority="P1")
    item = api_for(cast.bob).get(QUEUE).json()["results"][0]
    assert (
        item["id"] == ticket.pk and item["customer"] == "acme" and item["number"] == f"ACME-{ticket.number}"
    )
    assert item["status"] == "open" and item["priority"] == "P1" and item["requester_name"] == "user"
    assert {"first_response_due", "resolution_due"} <= set(item["sla"])  # api.md's, then the queue's
    assert set(item["sla"]) - {"first_response_due", "resolution_due"} == {
        "clock",
        "due",
        "warning_at",
        "state",
        "paused",
        "breached_at",
    }
    assert "count" not in api_for(cast.bob).get(QUEUE).json()
    assert api_for(cast.bob).get(QUEUE + "?count=true").json()["count"] >= 1


def test_filters(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "p1 mine", priority="P1", assignee=cast.bob)
    make_ticket(cast, cast.acme_user, "p4 nobody's", priority="P4")
    make_ticket(cast, cast.globex_user, "globex p1", priority="P1")
    client = api_for(cast.alice)
    assert set(subjects(client.get(QUEUE + "?priority=P1&customer=acme"))) == {"p1 mine"}
    assert subjects(api_for(cast.bob).get(QUEUE + "?assignee=me")) == ["p1 mine"]
    assert "p4 nobody's" in subjects(client.get(QUEUE + "?assignee=none&customer=acme"))
    assert subjects(client.get(f"{QUEUE}?assignee={cast.bob.pk}")) == ["p1 mine"]
    assert subjects(client.get(QUEUE + "?status=closed&customer=acme")) == []
    assert subjects(api_for(cast.bob).get(QUEUE + "?customer=globex")) == []  # not a member: nothing


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("priority=P7", "priority"),
        ("ordering=colour", "ordering"),
        ("assignee=someone", "assignee"),
        ("page_size=500", "page_size"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
def test_bad_queue_parameters_are_400_naming_them(cast: Cast, query: str, field: str) -> None:
    response = api_for(cast.bob).get(f"{QUEUE}?{query}")
    assert response.status_code == 400 and field in response.json()["fields"], response.content


def test_customer_users_cannot_use_the_unified_queue(cast: Cast) -> None:
    # The queue is the console's (tenants.access.Reach.CONSOLE): for customers' users it does not
    # exist, on the API as on the console page.
    for user in (cast.acme_user, cast.acme_admin):
        response = api_for(user).get(QUEUE)
        assert response.status_code == 404 and response.json() == {
            "code": "not_found",
            "detail": "Not found.",
        }
    assert api_for(None).get(QUEUE).status_code == 401


@pytest.mark.parametrize(
    "ordering", ["-created_at", "created_at", "resolution_due", "priority", "-updated_at"]
)
def test_cursor_pages_walk_forward_and_back_without_gaps_or_repeats(cast: Cast, ordering: str) -> None:
    for n in range(12):
        make_ticket(cast, cast.acme_user, f"walk {n:02d}", priority=f"P{n % 4 + 1}")
    client = api_for(cast.bob)
    url: str | None = f"{QUEUE}?customer=acme&page_size=5&ordering={ordering}"
    pages: list[list[str]] = []
    while url:
        body = client.get(url).json()
        pages.append([item["number"] for item in body["results"]])
        url = body["next"]
    seen = [number for page in pages for number in page]
    assert len(seen) == len(set(seen)) == 12 + _existing(cast)
    back = client.get(QUEUE + f"?customer=acme&page_size=5&ordering={ordering}")
    second = client.get(back.json()["next"]).json()
    previous = client.get(second["previous"]).json()
    assert [i["number"] for i in previous["results"]] == pages[0]
    assert previous["previous"] is None


def _existing(cast: Cast) -> int:
    with customer_schema(cast.acme):
        return Ticket.objects.count() - 12


def test_the_index_follows_every_change(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "tracked")
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Looking")
        workflows.ticket_update(
            customer=cast.acme,
            ticket=ticket,
            by=cast.bob,
            changes=workflows.TicketChanges(status="resolved", priority="P1", assignee=cast.bob),
        )
        ticket.refresh_from_db()
    entry = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=ticket.pk)
    assert (entry.status, entry.priority, entry.assignee_id) == ("resolved", "P1", cast.bob.pk)
    assert entry.updated_at == ticket.updated_at


def test_rebuild_reports_and_repairs_drift(cast: Cast) -> None:
    a = make_ticket(cast, cast.acme_user, "will go missing")
    b = make_ticket(cast, cast.acme_user, "will go stale")
    TicketIndexEntry.objects.filter(customer=cast.acme, ticket_id=a.pk).delete()
    TicketIndexEntry.objects.filter(customer=cast.acme, ticket_id=b.pk).update(
        subject="wrong", status="closed"
    )
    TicketIndexEntry.objects.create(
        customer=cast.acme,
        ticket_id=999_999,
        number="ACME-999999",
        subject="ghost",
        status="open",
        priority="P3",
        requester_name="nobody",
        created_at=a.created_at,
        updated_at=a.updated_at,
    )
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("rebuild_ticket_index", "--check", "--customer", "acme", stdout=out)
    assert exit_info.value.code == 1
    assert "acme: 1 missing, 1 stale, 1 orphaned" in out.getvalue()
    call_command("rebuild_ticket_index", "--customer", "acme", stdout=StringIO())
    call_command("rebuild_ticket_index", "--check", stdout=(clean := StringIO()))
    assert "0 with drift" in clean.getvalue()
    assert TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=b.pk).subject == "will go stale"
    assert not TicketIndexEntry.objects.filter(ticket_id=999_999).exists()


def _queries(client: Any, url: str) -> int:
    client.get(url)  # warm: the token's first use is recorded once, caches filled
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("user", "url"),
    [
        ("bob", QUEUE),
        ("bob", "/api/v1/customers/acme/tickets/"),
        ("acme_user", "/api/v1/customers/acme/tickets/"),
        ("bob", "/api/v1/notifications/"),
    ],
)
def test_list_query_counts_do_not_grow_with_the_rows(cast: Cast, user: str, url: str) -> None:
    from notifications.models import Notification

    def add(n: int) -> None:
        for i in range(n):
            ticket = make_ticket(cast, cast.acme_user, f"count {i}", assignee=cast.bob)
            Notification.objects.create(
                user=cast.bob,
                kind="ticket_assigned",
                customer=cast.acme,
                title="t",
                event_key=f"q{ticket.pk}",
            )

    client = api_for(getattr(cast, user))
    add(2)
    few = _queries(client, url)
    add(8)
    many = _queries(client, url)
    assert few == many, (few, many)


def test_comment_and_history_query_counts_do_not_grow(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "thread")
    client = api_for(cast.bob)

    def add(n: int) -> None:
        with customer_schema(cast.acme):
            for i in range(n):
                workflows.comment_add(
                    customer=cast.acme, ticket=ticket, by=cast.bob, body=f"c{i}", public=i % 2 == 0
                )

    for path in ("comments/", "history/", "attachments/"):
        url = f"/api/v1/customers/acme/tickets/{ticket.pk}/{path}"
        add(2)
        few = _queries(client, url)
        add(6)
        assert _queries(client, url) == few, path
