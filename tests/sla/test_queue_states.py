"""The SLA-aware queue: each row's shown clock (the running clock due first) and its state at the
instant of the request (on track, warning, breached, paused), the ``sla`` and ``replied``
filters, the ``next_due`` ordering, the customer-replied marker, the index written by the
workflows and by the sweep in their transactions, the rebuild command, and the live region's
ETags (304 while nothing changed, a fresh render once a shown row changes state by the clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from sla.models import SlaPolicy
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast, api_for
from tests.sla.conftest import change, make_policy, open_ticket, reply
from tests.support.clients import console
from tickets.index.models import TicketIndexEntry
from tickets.sla.sweep import sla_sweep

pytestmark = pytest.mark.django_db
QUEUE = "/api/v1/tickets/"


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def fast(cast: Cast) -> SlaPolicy:
    """24x7, warning at 80%: P1 first response 30 min, resolution 85; P3 600 and 240."""
    policy = make_policy(
        "Queue 24x7",
        P1={"first_response": 30, "resolution": 85},
        P3={"first_response": 600, "resolution": 240},
    )
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=policy))
    return policy


def items(cast: Cast, query: str = "") -> dict[str, dict[str, Any]]:
    response = api_for(cast.bob).get(f"{QUEUE}?customer=acme&page_size=200&{query}")
    assert response.status_code == 200, response.content
    return {item["subject"]: item for item in response.json()["results"]}


def test_states_filters_and_the_next_due_order(cast: Cast, fast: SlaPolicy, clock: Any) -> None:
    clock(utc(10))
    slow = open_ticket(cast.acme, cast.acme_user, "slow", priority="P3")  # resolution 14:00, warn 13:12
    urgent = open_ticket(cast.acme, cast.acme_user, "urgent", priority="P1")  # first response 10:30
    waiting = open_ticket(cast.acme, cast.acme_user, "waiting", priority="P3")
    reply(cast.acme, waiting, cast.bob, "Which cable?")
    change(cast.acme, waiting, cast.bob, status="pending")

    at_ten = items(cast)
    assert {"clock": "resolution", "state": "on_track", "paused": False}.items() <= at_ten["slow"][
        "sla"
    ].items()
    assert at_ten["slow"]["sla"]["due"] == "2026-11-24T14:00:00Z"
    assert at_ten["slow"]["sla"]["warning_at"] == "2026-11-24T13:12:00Z"
    assert at_ten["urgent"]["sla"]["clock"] == "first_response"
    assert at_ten["urgent"]["sla"]["due"] == "2026-11-24T10:30:00Z"
    assert at_ten["waiting"]["sla"]["state"] == "paused" and at_ten["waiting"]["sla"]["paused"]
    # next due first: the P1's first response, then the P3's resolution; the paused one last
    order = list(items(cast, "ordering=next_due&status=open,pending"))
    assert order.index("urgent") < order.index("slow") < order.index("waiting")
    assert next(iter(items(cast, "ordering=-next_due&status=open,pending"))) == "waiting"

    clock(utc(10, 25))  # past the P1's warning instant (80% of 30 min: 10:24)
    assert items(cast)["urgent"]["sla"]["state"] == "warning"
    assert set(items(cast, "sla=at_risk")) == {"urgent"}
    assert set(items(cast, "sla=breached")) == set()
    assert set(items(cast, "sla=paused")) == {"waiting"}
    assert {"slow"} <= set(items(cast, "sla=on_track")) and "urgent" not in items(cast, "sla=on_track")

    clock(utc(10, 31))  # first response overdue: breached by the clock alone, before any sweep
    assert items(cast)["urgent"]["sla"]["state"] == "breached"
    assert set(items(cast, "sla=at_risk,breached")) == {"urgent"}
    assert items(cast)["urgent"]["sla"]["breached_at"] is None
    sla_sweep(now=utc(10, 31))  # the sweep records the breach; the index row follows it
    entry = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=urgent.pk)
    assert entry.sla_breached_at == utc(10, 30)
    # an agent answers: first response stops, the resolution clock is shown; the breach stays
    reply(cast.acme, urgent, cast.bob, "On it")
    after = items(cast)["urgent"]["sla"]
    assert after["clock"] == "resolution" and after["state"] == "breached"
    assert after["breached_at"] == "2026-11-24T10:30:00Z"
    assert set(items(cast, "sla=breached")) == {"urgent"}
    assert slow.pk != urgent.pk


def test_customer_replied_marker_and_filter(cast: Cast, fast: SlaPolicy) -> None:
    fresh = open_ticket(cast.acme, cast.acme_user, "fresh")
    answered = open_ticket(cast.acme, cast.acme_user, "answered")
    reply(cast.acme, answered, cast.bob, "Did that help?")
    back = open_ticket(cast.acme, cast.acme_user, "back to us")
    reply(cast.acme, back, cast.bob, "Did that help?")
    reply(cast.acme, back, cast.acme_user, "No, still broken")
    found = items(cast)
    assert found["back to us"]["customer_replied"] and found["back to us"]["last_public_from"] == "customer"
    assert not found["answered"]["customer_replied"] and found["answered"]["last_public_from"] == "agent"
    assert not found["fresh"]["customer_replied"]  # nobody answered yet: not a reply
    assert set(items(cast, "replied=true")) == {"back to us"}
    assert {"fresh", "answered"} <= set(items(cast, "replied=false"))
    page = console(cast.bob).get("/?customer=acme").content.decode()
    row = page.split(f'data-ticket="ACME-{back.number}"', 1)[1].split("</tr>", 1)[0]
    assert "data-replied" in row
    other = page.split(f'data-ticket="ACME-{fresh.number}"', 1)[1].split("</tr>", 1)[0]
    assert "data-replied" not in other


@pytest.mark.parametrize(("query", "field"), [("sla=late", "sla"), ("replied=yes", "replied")])
def test_bad_sla_filters_are_400_naming_them(cast: Cast, query: str, field: str) -> None:
    response = api_for(cast.bob).get(f"{QUEUE}?{query}")
    assert response.status_code == 400 and field in response.json()["fields"], response.content


def test_rebuild_repairs_the_state_columns(cast: Cast, fast: SlaPolicy) -> None:
    ticket = open_ticket(cast.acme, cast.acme_user, "state drift", priority="P1")
    right = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=ticket.pk)
    TicketIndexEntry.objects.filter(pk=right.pk).update(
        sla_clock="", sla_due=None, sla_warn_at=None, customer_replied=True
    )
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("rebuild_ticket_index", "--check", "--customer", "acme", stdout=out)
    call_command("rebuild_ticket_index", "--customer", "acme", stdout=StringIO())
    repaired = TicketIndexEntry.objects.get(pk=right.pk)
    assert (repaired.sla_clock, repaired.sla_due, repaired.sla_warn_at, repaired.customer_replied) == (
        right.sla_clock,
        right.sla_due,
        right.sla_warn_at,
        False,
    )


def test_the_live_queue_answers_304_until_something_or_the_clock_changes(
    cast: Cast, fast: SlaPolicy, clock: Any
) -> None:
    clock(utc(10))
    ticket = open_ticket(cast.acme, cast.acme_user, "live", priority="P1")  # warns at 10:24
    client = console(cast.bob)
    poll: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
    first = client.get("/?customer=acme", **poll)
    tag = first["ETag"]
    assert first.status_code == 200 and tag.endswith(f'.{int(utc(10, 24).timestamp())}"')
    assert 'hx-trigger="every 5s"' in first.content.decode() and "If-None-Match" in first.content.decode()
    assert client.get("/?customer=acme", HTTP_IF_NONE_MATCH=tag, **poll).status_code == 304
    clock(utc(10, 24, 1))  # the row turned amber by itself: the tag expired
    amber = client.get("/?customer=acme", HTTP_IF_NONE_MATCH=tag, **poll)
    assert amber.status_code == 200 and 'data-sla-state="warning"' in amber.content.decode()
    tag = amber["ETag"]
    assert client.get("/?customer=acme", HTTP_IF_NONE_MATCH=tag, **poll).status_code == 304
    change(cast.acme, ticket, cast.bob, priority="P2")  # someone's change: rendered again
    assert client.get("/?customer=acme", HTTP_IF_NONE_MATCH=tag, **poll).status_code == 200
    # the customer's page shares the region
    assert "data-live" in client.get("/customers/acme/").content.decode()
