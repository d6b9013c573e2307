"""What a ticket create through the API costs in statements (the hot path of issue 14), with
every side effect still there. Speed itself is measured in bench/, never asserted here.

In these tests the request runs inside the test's transaction (savepoints instead of BEGIN and
COMMIT) on a connection that stays open between requests, as a pooled one does for a request.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry, Channel
from sla.models import SlaTimer
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tickets.index.models import TicketIndexEntry, TicketSearchEntry
from tickets.models import EventKind, Ticket, TicketEvent

BODY = {"subject": "The printer jams", "description": "Every second page.", "priority": "P2"}

# The statements of one create, SET search_path included:
#   SET search_path (public) · the token and its user · the customer with its settings and
#   default policy · [the customer user's profile] · SAVEPOINT · SET search_path (the customer)
#   · the next number · the customer's active contract (the contract step of the SLA hierarchy) ·
#   the provider's default policy (the test customers have no default) ·
#   the ticket · its audit entry · its SLA timers · its index row · its search row · its outbox
#   event · RELEASE.
# A statement more is a regression of the hot path: find it with CaptureQueriesContext.
AGENT_STATEMENTS = 15
CUSTOMER_STATEMENTS = 16
# One SET for the public schema (the token, the customer), one for the customer's schema: the
# backend (serviflow.database) sends it only when the path changes.
SET_SEARCH_PATHS = 2


def sets(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SET search_path")]


@pytest.mark.parametrize(("who", "most"), [("bob", AGENT_STATEMENTS), ("acme_user", CUSTOMER_STATEMENTS)])
def test_a_create_costs_a_fixed_number_of_statements_and_keeps_every_side_effect(
    cast: Cast, who: str, most: int, django_assert_max_num_queries: Any
) -> None:
    user = getattr(cast, who)
    client = api_for(user)
    url = f"/api/v1/customers/{cast.acme.slug}/tickets/"
    # The first call of the day notes the agent's activity and touches the token: once each.
    assert client.post(url, {**BODY, "subject": "warm-up"}, format="json").status_code == 201

    with django_assert_max_num_queries(most) as queries:
        reply = client.post(url, BODY, format="json")
    assert reply.status_code == 201, reply.content
    customer_path = f'SET search_path = "{cast.acme.schema_name}","public"'
    assert sets(queries) == ['SET search_path = "public"', customer_path]
    assert len(sets(queries)) == SET_SEARCH_PATHS

    with customer_schema(cast.acme):
        ticket = Ticket.objects.get(pk=reply.json()["id"])
        assert ticket.subject == BODY["subject"] and ticket.requester_user_id == user.pk
        assert ticket.sla_snapshot and ticket.first_response_due and ticket.resolution_due
        entry = AuditEntry.objects.get(object_pk=str(ticket.pk), content_type__model="ticket")
        assert entry.actor_id == user.pk and entry.channel == Channel.API
        (event,) = TicketEvent.objects.filter(ticket=ticket)
        assert event.kind == EventKind.CREATED and event.actor_id == user.pk
    row = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=ticket.pk)
    assert row.subject == BODY["subject"] and row.resolution_due == ticket.resolution_due
    words = TicketSearchEntry.objects.get(customer=cast.acme, ticket_id=ticket.pk)
    assert words.subject == BODY["subject"] and BODY["description"] in words.public_text
    timers = SlaTimer.objects.filter(customer=cast.acme, ticket_id=ticket.pk)
    assert {(timer.clock, timer.kind) for timer in timers} == {
        ("first_response", "warning"),
        ("first_response", "breach"),
        ("resolution", "warning"),
        ("resolution", "breach"),
    }


def test_the_path_is_set_again_after_a_refused_create(cast: Cast) -> None:
    """A refused create in one customer, then a create in another on the same connection: the
    second sets its own path and lands in its own schema."""
    bob, alice = api_for(cast.bob), api_for(cast.alice)
    acme_url = f"/api/v1/customers/{cast.acme.slug}/tickets/"
    refused = bob.post(acme_url, {**BODY, "priority": "P9"}, format="json")
    assert refused.status_code == 400
    with CaptureQueriesContext(connection) as queries:
        created = alice.post(f"/api/v1/customers/{cast.globex.slug}/tickets/", BODY, format="json")
    assert created.status_code == 201
    assert f'SET search_path = "{cast.globex.schema_name}","public"' in sets(queries)
    with customer_schema(cast.globex):
        assert Ticket.objects.filter(pk=created.json()["id"], subject=BODY["subject"]).exists()
    assert TicketIndexEntry.objects.filter(customer=cast.globex, ticket_id=created.json()["id"]).exists()
