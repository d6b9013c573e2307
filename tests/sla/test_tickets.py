"""The SLA engine on real tickets: the hierarchy with source and reason, the worked examples of
sla.md through the ticket workflows and the API, re-resolution in the audit trail, the
explanation, the simulator and the re-apply action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from cmdb import services as cmdb
from people.models import CustomerUser
from sla.models import SlaPolicy, SlaTimer
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast, api_for
from tests.sla.conftest import change, london, make_policy, open_ticket, reply, uk_office
from tests.support.clients import console, portal
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

SLA_URL = "/api/v1/customers/acme/tickets/{}/sla/"
TICKET_URL = "/api/v1/customers/acme/tickets/{}/"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def ticket_json(cast: Cast, ticket: Ticket, user: Any = None) -> dict[str, Any]:
    response = api_for(user or cast.bob).get(TICKET_URL.format(ticket.pk))
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


# --- which policy applies -------------------------------------------------------------------------


def test_without_anything_else_the_provider_default_applies(cast: Cast) -> None:
    ticket = open_ticket(cast.acme, cast.acme_user)
    sla = ticket_json(cast, ticket)["sla"]
    default = SlaPolicy.objects.get(is_default=True)
    assert sla["policy"] == {"id": default.pk, "name": default.name}
    assert sla["source"] == "default" and sla["reason"] == f"provider default '{default.name}'"
    assert sla["first_response_due"] and sla["resolution_due"] and sla["paused"] is False
    assert sla["first_response_breached"] is False and sla["resolution_breached"] is False


def test_hierarchy_first_match_wins_with_a_reason_naming_who_decided(cast: Cast) -> None:
    silver, gold, executive, urgent = (
        make_policy(name) for name in ("Silver", "Gold", "Executive 2h", "Urgent")
    )
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=silver))
    cast.acme.refresh_from_db()
    assert ticket_json(cast, open_ticket(cast.acme, cast.acme_user))["sla"]["reason"] == (
        "customer Acme has default 'Silver'"
    )
    with customer_schema(cast.acme):
        rack = cmdb.ci_create(
            customer=cast.acme, by=None, new=cmdb.NewCi(name="rack-3", type="other", sla_policy=gold)
        )
        db01 = cmdb.ci_create(
            customer=cast.acme, by=None, new=cmdb.NewCi(name="db-01", type="server", parent=rack)
        )
    on_ci = ticket_json(cast, open_ticket(cast.acme, cast.acme_user, ci=db01))["sla"]
    assert (on_ci["source"], on_ci["reason"]) == ("ci", "CI db-01 inherits 'Gold' from parent rack-3")
    with customer_schema(cast.acme):
        profile = CustomerUser.objects.select_related("user").get(user=cast.acme_user)
        profile.sla_policy = executive
        profile.save(update_fields=["sla_policy"])
    by_requester = ticket_json(cast, open_ticket(cast.acme, cast.acme_user, ci=db01))["sla"]
    assert by_requester["source"] == "requester"
    assert by_requester["reason"] == f"requester {cast.acme_user.name} has override 'Executive 2h'"
    overridden = open_ticket(cast.acme, cast.bob, ci=db01, requester=profile, sla_policy=urgent)
    assert ticket_json(cast, overridden)["sla"]["source"] == "ticket"
    # the explanation lists every level and marks the one that decided
    chain = api_for(cast.bob).get(SLA_URL.format(overridden.pk)).json()["chain"]
    assert [step["source"] for step in chain] == [
        "ticket",
        "requester",
        "ci",
        "request_type",
        "contract",
        "customer",
        "default",
    ]
    assert [step["decides"] for step in chain] == [True, False, False, False, False, False, False]
    assert chain[2]["text"] == "CI db-01 inherits 'Gold' from parent rack-3"


def test_editing_a_policy_changes_new_tickets_only(cast: Cast) -> None:
    policy = make_policy("Editable", P3={"first_response": 60, "resolution": 600})
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=policy))
    cast.acme.refresh_from_db()
    before = open_ticket(cast.acme, cast.acme_user)
    policy.targets = {**policy.targets, "P3": {"first_response": 30, "resolution": 300}}
    policy.save()
    after = open_ticket(cast.acme, cast.acme_user)
    assert before.sla_snapshot["targets"]["P3"]["resolution"] == 600
    assert after.sla_snapshot["targets"]["P3"]["resolution"] == 300
    with customer_schema(cast.acme):
        before.refresh_from_db()
    assert before.sla_snapshot["targets"]["P3"]["resolution"] == 600


# --- the worked examples of sla.md, through the workflows --------------------------------------------


def test_worked_example_pause_24x7(cast: Cast, clock: Any) -> None:
    policy = make_policy("Pause example", P3={"first_response": 600, "resolution": 240})
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, sla_policy=None)
    ticket = change(cast.acme, ticket, cast.bob, sla_policy=policy)
    assert ticket.resolution_due == utc(2026, 11, 24, 14, 0)
    clock(utc(2026, 11, 24, 11, 0))
    reply(cast.acme, ticket, cast.bob, "Which printer is it?")
    ticket = change(cast.acme, ticket, cast.bob, status="pending")  # 60 minutes used
    sla = ticket_json(cast, ticket)["sla"]
    assert sla["paused"] is True and sla["resolution_due"] is None
    clock(utc(2026, 11, 24, 13, 0))
    reply(cast.acme, ticket, cast.acme_user, "The one on floor 2.")  # the customer answers: open again
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.resolution_due == utc(2026, 11, 24, 16, 0)
    explained = api_for(cast.bob).get(SLA_URL.format(ticket.pk)).json()
    assert [(s["state"], s["business_minutes"]) for s in explained["segments"]] == [
        ("running", 60.0),
        ("paused", 120.0),
        ("running", 0.0),
    ]
    assert explained["segments"][1]["by"] == cast.bob.name
    assert "Which printer is it?" in explained["segments"][1]["reason"]


def test_worked_example_priority_change_applies_to_the_time_already_elapsed(cast: Cast, clock: Any) -> None:
    office = make_policy("UK office SLA", uk_office(), P3={"first_response": 600, "resolution": 1440})
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=office))
    cast.acme.refresh_from_db()
    clock(london(2026, 11, 23, 9, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, priority="P3")
    clock(london(2026, 11, 23, 11, 0))
    ticket = change(cast.acme, ticket, cast.bob, priority="P1")  # P1 resolution is 240
    assert ticket.resolution_due == london(2026, 11, 23, 13, 0)
    assert ticket_json(cast, ticket)["sla"]["resolution_breached"] is False


def test_worked_example_priority_change_after_the_new_target_breaches_at_once(cast: Cast, clock: Any) -> None:
    office = make_policy("UK office SLA", uk_office(), P3={"first_response": 600, "resolution": 1440})
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=office))
    cast.acme.refresh_from_db()
    clock(london(2026, 11, 23, 9, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, priority="P3")
    clock(london(2026, 11, 23, 14, 0))
    ticket = change(cast.acme, ticket, cast.bob, priority="P1")
    assert ticket.resolution_breached_at == london(2026, 11, 23, 13, 0)
    assert ticket_json(cast, ticket)["sla"]["resolution_breached"] is True
    clocks = api_for(cast.bob).get(SLA_URL.format(ticket.pk)).json()["clocks"]
    assert clocks["resolution"]["breached_at"] == "2026-11-23T13:00:00Z"
    # a breach is a fact: resolving now does not turn it into met
    ticket = change(cast.acme, ticket, cast.bob, status="resolved")
    assert ticket_json(cast, ticket)["sla"]["resolution_breached"] is True


def test_re_resolution_is_an_audit_entry_with_old_and_new_policy_and_due(cast: Cast, clock: Any) -> None:
    fast = make_policy("Fast", P3={"first_response": 10, "resolution": 60})
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user)
    old_due = ticket.resolution_due
    assert old_due is not None
    response = api_for(cast.bob).patch(TICKET_URL.format(ticket.pk), {"sla_policy": fast.pk}, format="json")
    assert response.status_code == 200, response.content
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
        entry = AuditEntry.objects.filter(object_pk=str(ticket.pk), content_type__model="ticket").latest("id")
    changes = entry.changes_dict
    assert changes["sla_applied"] == [str(SlaPolicy.objects.get(is_default=True).pk), str(fast.pk)]
    assert changes["sla_source"] == ["default", "ticket"]
    assert "resolution_due" in changes and changes["resolution_due"][0].startswith(
        old_due.strftime("%Y-%m-%d")
    )
    assert entry.actor_id == cast.bob.pk and entry.channel == "api"
    assert ticket.resolution_due == utc(2026, 11, 24, 11, 0) and ticket.sla_generation == 1


def test_pending_needs_a_question_first(cast: Cast) -> None:
    ticket = open_ticket(cast.acme, cast.acme_user)
    response = api_for(cast.bob).patch(TICKET_URL.format(ticket.pk), {"status": "pending"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "pending_needs_question"
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.status == "open" and len(ticket.sla_segments) == 1


def test_first_response_stops_at_the_first_public_agent_reply_and_never_restarts(
    cast: Cast, clock: Any
) -> None:
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user)
    clock(utc(2026, 11, 24, 10, 20))
    reply(cast.acme, ticket, cast.bob)
    clock(utc(2026, 11, 24, 10, 30))
    ticket = change(cast.acme, ticket, cast.bob, status="resolved")
    ticket = change(cast.acme, ticket, cast.bob, status="open")
    sla = ticket_json(cast, ticket)["sla"]
    assert sla["first_response_at"] == "2026-11-24T10:20:00Z"
    with customer_schema(cast.acme):
        timers = set(
            SlaTimer.objects.filter(customer=cast.acme, ticket_id=ticket.pk).values_list("clock", flat=True)
        )
    assert timers == {"resolution"}


def test_a_change_that_moves_no_clock_leaves_the_timer_rows_alone(cast: Cast, clock: Any) -> None:
    """A customer's reply on an open ticket moves no clock: its timer rows are read, not
    rewritten (no statement writes ``sla_timer``); an agent's first reply stops first response,
    whose rows go, and the resolution rows stay as they were."""
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user)

    def rows() -> set[tuple[int, str, str]]:
        with customer_schema(cast.acme):
            timers = SlaTimer.objects.filter(customer=cast.acme, ticket_id=ticket.pk)
            return set(timers.values_list("pk", "clock", "kind"))

    before = rows()
    assert {clock for _, clock, _ in before} == {"first_response", "resolution"}
    clock(utc(2026, 11, 24, 10, 5))
    with CaptureQueriesContext(connection) as queries:
        reply(cast.acme, ticket, cast.acme_user)
    writes = [q["sql"] for q in queries if "sla_timer" in q["sql"] and not q["sql"].startswith("SELECT")]
    assert writes == [] and rows() == before
    clock(utc(2026, 11, 24, 10, 10))
    reply(cast.acme, ticket, cast.bob)
    assert rows() == {row for row in before if row[1] == "resolution"}


# --- the explanation, outsiders ----------------------------------------------------------------------


def test_explanation_and_outsiders(cast: Cast) -> None:
    ticket = open_ticket(cast.acme, cast.acme_user)
    url = SLA_URL.format(ticket.pk)
    body = api_for(cast.bob).get(url).json()
    assert set(body) >= {"policy", "source", "reason", "chain", "snapshot", "segments", "clocks", "events"}
    assert body["snapshot"]["targets"]["P3"] and body["clocks"]["resolution"]["state"] == "running"
    assert api_for(cast.acme_user).get(url).status_code == 200  # the requester may see why
    for outsider in (cast.charlie, cast.globex_admin, cast.globex_user, cast.acme_user2):
        response = api_for(outsider).get(url)
        assert response.status_code == 404 and "Printer" not in response.content.decode()


def test_the_sla_explanation_showed_customers_every_level_and_policy(cast: Cast) -> None:
    """Finding 6: the explanation gave anyone who may see the ticket the whole hierarchy (the
    requester's override, the customer's default, the provider's default, by id and name). The
    customer's side (users, admins, the customer's own agents) now reads only the ticket's own
    policy, the targets of its priority, the clocks, the timeline and the breaches."""
    silver = make_policy("Silver")
    gold = make_policy("Gold", P3={"first_response": 45, "resolution": 300})
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=silver))
    cast.acme.refresh_from_db()
    with customer_schema(cast.acme):
        CustomerUser.objects.filter(user=cast.acme_user).update(sla_policy=gold)
    ticket = open_ticket(cast.acme, cast.acme_user)
    default = SlaPolicy.objects.get(is_default=True).name
    url = SLA_URL.format(ticket.pk)
    for reader in (cast.acme_user, cast.acme_admin, cast.acme_it):
        body = api_for(reader).get(url).json()
        assert set(body) == {
            "policy",
            "source",
            "reason",
            "priority",
            "targets",
            "hours_text",
            "segments",
            "clocks",
            "events",
            "now",
        }, reader
        assert body["policy"] == {"id": gold.pk, "name": "Gold"} and body["source"] == "requester"
        assert body["reason"] == "the requester's SLA policy 'Gold'"
        assert body["targets"] == {"first_response": 45, "resolution": 300}
        assert body["clocks"]["resolution"]["target_minutes"] == 300
        text = str(body)
        assert "Silver" not in text and default not in text
        ticket_sla = ticket_json(cast, ticket, reader)["sla"]
        assert ticket_sla["reason"] == "the requester's SLA policy 'Gold'"
    staff = api_for(cast.bob).get(url).json()
    assert [step["policy"] for step in staff["chain"]][1:] == [
        gold.pk,
        None,  # no CI
        None,  # no request type
        None,  # no contract
        silver.pk,
        SlaPolicy.objects.get(is_default=True).pk,
    ]
    assert "customer Acme has default 'Silver'" in str(staff) and staff["snapshot"]["targets"]["P1"]
    assert (
        ticket_json(cast, ticket)["sla"]["reason"] == f"requester {cast.acme_user.name} has override 'Gold'"
    )
    # The console's SLA card of the customer's own agent, and the portal, say as little.
    card = console(cast.acme_it).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert "Gold" in card and "Silver" not in card and default not in card and 'class="sla-chain"' not in card
    page = portal(cast.acme_user).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Gold" in page and "Silver" not in page and default not in page
    staff_card = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert 'class="sla-chain"' in staff_card and "Silver" in staff_card


# --- the simulator -----------------------------------------------------------------------------------

SIMULATE = "/api/v1/sla/simulate/"


def test_simulator_runs_the_worked_examples(cast: Cast) -> None:
    office = uk_office()
    body = {
        "business_hours": office.pk,
        "targets": {p: {"first_response": 480, "resolution": 480} for p in ("P1", "P2", "P3", "P4")},
        "priority": "P2",
        "created_at": "2026-12-24T15:00:00+00:00",
    }
    response = api_for(cast.alice).post(SIMULATE, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["resolution_due"] == "2026-12-29T15:00:00Z"
    pause = {
        "business_hours": None,
        "targets": {p: {"first_response": 240, "resolution": 240} for p in ("P1", "P2", "P3", "P4")},
        "priority": "P3",
        "created_at": "2026-11-24T10:00:00Z",
        "events": [
            {"at": "2026-11-24T11:00:00Z", "status": "pending"},
            {"at": "2026-11-24T13:00:00Z", "status": "open"},
        ],
    }
    result = api_for(cast.bob).post(SIMULATE, pause, format="json").json()
    assert result["resolution_due"] == "2026-11-24T16:00:00Z"
    assert [s["state"] for s in result["segments"]] == ["running", "paused", "running"]


@pytest.mark.parametrize(
    ("change_body", "field"),
    [
        ({"priority": "P9"}, "priority"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"targets": {"P1": {"first_response": 5}}}, "targets"),
        (
            {"business_hours": {"timezone": "Mars/Olympus", "schedule": {}, "holidays": []}},
            "business_hours.timezone",
        ),
        ({"business_hours": 999999}, "business_hours"),
        ({"events": [{"at": "2026-11-23T09:00:00Z", "status": "pending"}]}, "events[0].at"),
        ({"events": [{"at": "2026-11-24T11:00:00Z", "status": "sleeping"}]}, "events"),
    ],
)
def test_simulator_names_what_is_wrong(cast: Cast, change_body: dict[str, Any], field: str) -> None:
    body = {
        "business_hours": None,
        "targets": {p: {"first_response": 60, "resolution": 240} for p in ("P1", "P2", "P3", "P4")},
        "priority": "P3",
        "created_at": "2026-11-24T10:00:00Z",
        **change_body,
    }
    response = api_for(cast.alice).post(SIMULATE, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()


def test_simulator_is_for_provider_staff(cast: Cast) -> None:
    body = {
        "policy": SlaPolicy.objects.get(is_default=True).pk,
        "priority": "P1",
        "created_at": "2026-11-24T10:00:00Z",
    }
    assert api_for(cast.alice).post(SIMULATE, body, format="json").status_code == 200
    for outsider in (cast.acme_admin, cast.acme_it, cast.globex_user):
        assert api_for(outsider).post(SIMULATE, body, format="json").status_code == 404
    assert api_for(None).post(SIMULATE, body, format="json").status_code == 401


# --- re-apply ----------------------------------------------------------------------------------------

REAPPLY = "/api/v1/customers/{}/sla/reapply/"


def test_reapply_previews_then_applies_exactly_that(cast: Cast, clock: Any) -> None:
    policy = make_policy("Reapplied", P3={"first_response": 60, "resolution": 600})
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=policy))
    cast.acme.refresh_from_db()
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user)
    untouched = open_ticket(cast.acme, cast.acme_user, priority="P1")
    policy.targets = {**policy.targets, "P3": {"first_response": 60, "resolution": 300}}
    policy.save()
    preview = api_for(cast.alice).post(REAPPLY.format("acme"), {}, format="json").json()
    assert preview["applied"] is False and preview["open_tickets"] >= 2
    moved = {item["id"]: item for item in preview["tickets"]}
    assert moved[ticket.pk]["shift_minutes"] == -300 and untouched.pk not in moved
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.resolution_due == utc(2026, 11, 24, 20, 0)  # nothing saved by the preview
    stale = api_for(cast.alice).post(REAPPLY.format("acme"), {"confirm": "0" * 32}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_preview"
    applied = api_for(cast.alice).post(
        REAPPLY.format("acme"), {"confirm": preview["fingerprint"]}, format="json"
    )
    assert applied.status_code == 200 and applied.json()["applied"] is True
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
        entry = AuditEntry.objects.filter(object_pk=str(ticket.pk), content_type__model="ticket").latest("id")
    assert ticket.resolution_due == utc(2026, 11, 24, 15, 0)
    assert entry.actor_id == cast.alice.pk and "resolution_due" in entry.changes_dict


def test_reapply_is_for_provider_admins_of_visible_customers(cast: Cast) -> None:
    assert api_for(cast.bob).post(REAPPLY.format("acme"), {}, format="json").status_code == 403
    for outsider in (cast.charlie, cast.acme_admin, cast.globex_admin):
        assert api_for(outsider).post(REAPPLY.format("acme"), {}, format="json").status_code == 404


def test_ticket_list_sla_costs_no_extra_queries_per_row(cast: Cast) -> None:
    url = "/api/v1/customers/acme/tickets/"
    open_ticket(cast.acme, cast.acme_user)
    client = api_for(cast.bob)
    client.get(url)  # warm: the host lookup and the token's last use are cached per minute
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        open_ticket(cast.acme, cast.acme_user)
    with CaptureQueriesContext(connection) as more:
        body = client.get(url).json()
    assert all(item["sla"]["policy"] for item in body["results"])
    assert len(more.captured_queries) == len(few.captured_queries)
