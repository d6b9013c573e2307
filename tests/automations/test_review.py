"""The review of issue 19: who a notify action may reach, day passes, admins only, deep JSON,
time firings that did nothing, a rule whose owner is inactive, and field changes as updates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AgentMembership, User
from accounts.services import AgentFields, agent_create
from automations import services
from automations.engine import rules_for, run_event
from automations.models import Event, Rule, RuleAction, TimeFiring
from automations.timed import time_rules_run
from notifications.models import Notification, NotificationKind
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.automations.conftest import make_rule
from tests.conftest import Cast, api_for
from tests.support.clients import console
from tickets import workflows
from tickets.index.services import display_number
from tickets.models import Status, Ticket, TicketEvent
from tickets.types.services import TypeValues, request_type_create
from tickets.types.values import FieldDef


def _open(cast: Cast, customer: Customer, by: User, subject: str = "Payroll export broken") -> Ticket:
    with customer_schema(customer):
        return workflows.ticket_create(customer=customer, by=by, new=workflows.NewTicket(subject=subject))


def _admin(email: str) -> User:
    return agent_create(fields=AgentFields(email=email, name=email, is_admin=True), password=None)


def _notify(*users: User) -> list[dict[str, Any]]:
    return [{"action": "notify", "roles": [], "users": [user.pk for user in users], "message": ""}]


def _told(ticket: Ticket, customer: Customer) -> list[str]:
    found = Notification.objects.filter(
        kind=NotificationKind.AUTOMATION, ticket_id=ticket.pk, customer=customer
    )
    return sorted(found.values_list("user__email", flat=True))


# --- 1: a notify action reaches only people who may see the customer ----------------------------


def test_a_customers_rule_may_not_name_an_agent_who_is_not_its_member(cast: Cast) -> None:
    with pytest.raises(ValidationError, match=str(cast.charlie.pk)):  # Charlie is Globex's only
        make_rule(cast, cast.acme, name="Tell Charlie", event="created", actions=_notify(cast.charlie))
    make_rule(cast, cast.acme, name="Tell Bob", event="created", actions=_notify(cast.bob))


def test_a_provider_rule_names_provider_staff_only(cast: Cast) -> None:
    with pytest.raises(ValidationError):
        make_rule(cast, None, name="Tell a customer", event="created", actions=_notify(cast.acme_user))


def test_delivery_leaves_out_who_may_not_see_the_tickets_customer(cast: Cast, run_after_commit: Any) -> None:
    """A provider rule naming Charlie (Globex's agent) tells him of Globex's tickets only; a
    customer's rule stops telling an agent whose membership ended after it was saved."""
    make_rule(cast, None, name="Tell Charlie", event="created", actions=_notify(cast.charlie))
    make_rule(cast, cast.acme, name="Tell Bob", event="created", actions=_notify(cast.bob))
    AgentMembership.objects.filter(agent=cast.bob, customer=cast.acme).delete()
    with run_after_commit():
        acme = _open(cast, cast.acme, cast.acme_user)
        globex = _open(cast, cast.globex, cast.globex_user)
    assert _told(acme, cast.acme) == []
    assert _told(globex, cast.globex) == ["charlie@msp.test"]


# --- 2 and 7: day passes, and keys by the action's row --------------------------------------------


def test_an_occasional_agent_without_a_day_pass_gets_no_ticket_text(
    cast: Cast, run_after_commit: Any
) -> None:
    make_rule(cast, cast.globex, name="Tell Charlie", event="created", actions=_notify(cast.charlie))
    with run_after_commit():
        ticket = _open(cast, cast.globex, cast.globex_user, "Payroll export broken")
    notice = Notification.objects.get(user=cast.charlie, kind=NotificationKind.AUTOMATION)
    assert "Payroll" not in notice.title + notice.body
    number = display_number(cast.globex, ticket.number)
    sent = [message for message in mail.outbox if message.to == ["charlie@msp.test"]]
    assert sent and all("Payroll" not in str(m.subject) + str(m.body) for m in sent)
    assert all(str(m.subject).startswith(f"[{number}]") for m in sent)
    with customer_schema(cast.globex):
        row = RuleAction.objects.get(ticket_id=ticket.pk, action="notify")
    assert notice.event_key == f"{cast.globex.schema_name}:automation:{row.pk}"


# --- 3: provider admins only ----------------------------------------------------------------------


def test_only_provider_admins_write_rules_through_the_services(cast: Cast) -> None:
    with pytest.raises(PermissionDenied):
        make_rule(cast, cast.acme, by=cast.bob, name="Mine", event="created", actions=_notify(cast.bob))
    rule = make_rule(cast, cast.acme, name="Alice's", event="created", actions=_notify(cast.bob))
    with pytest.raises(PermissionDenied):
        services.rule_update(by=cast.bob, rule=rule, fields=services.RuleFields(enabled=False))
    with pytest.raises(PermissionDenied):
        services.rule_delete(by=cast.acme_admin, rule=rule)
    assert Rule.objects.filter(pk=rule.pk, enabled=True).exists()


# --- 4: deep JSON in the console form ------------------------------------------------------------


def test_deeply_nested_json_in_the_rule_form_is_a_field_error(cast: Cast) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    reply = console(cast.alice).post("/automations/", {"name": "Deep", "event": "created", "actions": deep})
    assert reply.status_code == 400  # the form's error, as for any invalid rule: not a 500
    assert "nested at most" in reply.content.decode()
    assert not Rule.objects.filter(name="Deep").exists()


# --- 5 and 6: a rule whose owner is inactive ------------------------------------------------------


def test_a_time_firing_that_did_nothing_is_not_recorded(cast: Cast) -> None:
    owner = _admin("owner@msp.test")
    make_rule(
        cast,
        cast.acme,
        by=owner,
        name="Chase",
        event="time",
        wait={"status": "open", "for": 1, "unit": "hours"},
        actions=[{"action": "note", "body": "Still open."}],
    )
    ticket = _open(cast, cast.acme, cast.acme_user)
    User.objects.filter(pk=owner.pk).update(is_active=False)
    later = timezone.now() + timedelta(hours=2)
    assert time_rules_run(now=later).fired == 0
    assert not TimeFiring.objects.filter(ticket_id=ticket.pk).exists()
    User.objects.filter(pk=owner.pk).update(is_active=True)  # back: the same stretch fires now
    assert time_rules_run(now=later).fired == 1
    assert TimeFiring.objects.filter(ticket_id=ticket.pk).count() == 1


def test_the_console_and_the_api_show_that_an_inactive_owners_rule_does_not_run(cast: Cast) -> None:
    owner = _admin("gone@msp.test")
    rule = make_rule(cast, cast.acme, by=owner, name="Orphan", event="created", actions=_notify(cast.bob))
    listed = api_for(cast.alice).get("/api/v1/customers/acme/automations/").json()["results"]
    assert [(item["runs"], item["not_running"]) for item in listed] == [(True, None)]
    User.objects.filter(pk=owner.pk).update(is_active=False)
    (item,) = api_for(cast.alice).get("/api/v1/customers/acme/automations/").json()["results"]
    assert (item["id"], item["runs"], item["not_running"]) == (rule.pk, False, Rule.OWNER_INACTIVE)
    page = console(cast.alice).get("/customers/acme/automations/").content.decode()
    assert "owner inactive: this rule does not run" in page


# --- 8: a change of custom fields runs the "updated" rules -----------------------------------------


def test_a_patch_of_fields_runs_the_updated_rules_without_an_event(cast: Cast, run_after_commit: Any) -> None:
    with customer_schema(cast.acme):
        kind = request_type_create(
            customer=cast.acme,
            by=cast.alice,
            values=TypeValues(
                name="Outage",
                fields=[
                    FieldDef(key="scope", label="Scope", kind="choice", choices=("one", "all")),
                    FieldDef(key="seen", label="Seen", kind="text"),
                ],
            ),
        )
        ticket = workflows.ticket_create(
            customer=cast.acme,
            by=cast.acme_user,
            new=workflows.NewTicket(subject="Mail down", request_type=kind, fields={"scope": "one"}),
        )
    make_rule(
        cast,
        cast.acme,
        name="Everyone is down",
        event="updated",
        conditions=[{"field": "fields.scope", "op": "is", "value": "all"}],
        actions=[
            {"action": "set", "field": "priority", "value": "P1"},
            {"action": "set", "field": "fields.seen", "value": "yes"},  # its own change: no rerun
        ],
    )
    with customer_schema(cast.acme):
        events = TicketEvent.objects.filter(ticket=ticket).count()
    with run_after_commit():
        reply = api_for(cast.bob).patch(
            f"/api/v1/customers/acme/tickets/{ticket.pk}/", {"fields": {"scope": "all"}}, format="json"
        )
    assert reply.status_code == 200, reply.content
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.fields) == ("P1", {"scope": "all", "seen": "yes"})
        assert RuleAction.objects.filter(ticket_id=ticket.pk).count() == 2  # ran once
        # The field change wrote no event (the rule's priority change did, as every one does).
        assert TicketEvent.objects.filter(ticket=ticket).count() == events + 1
        assert ticket.status == Status.OPEN


# --- 9: one run per ticket, event kind and transaction ----------------------------------------------


def test_a_run_is_noted_once_per_transaction_and_survives_a_rolled_back_savepoint(
    cast: Cast, run_after_commit: Any
) -> None:
    make_rule(cast, cast.acme, name="Note it", event="updated", actions=[{"action": "note", "body": "Seen."}])
    ticket = _open(cast, cast.acme, cast.acme_user)
    with run_after_commit(), customer_schema(cast.acme):
        try:
            with transaction.atomic():  # noted, then rolled back
                workflows.ticket_reprioritise(customer=cast.acme, ticket=ticket, by=cast.bob, priority="P2")
                raise RuntimeError
        except RuntimeError:
            pass
        ticket.refresh_from_db()
        workflows.ticket_update(  # an update and an assignment: one run
            customer=cast.acme,
            ticket=ticket,
            by=cast.alice,
            changes=workflows.TicketChanges(priority="P3", assignee=cast.bob),
        )
        workflows.ticket_reprioritise(customer=cast.acme, ticket=ticket, by=cast.bob, priority="P1")
    with customer_schema(cast.acme):
        assert RuleAction.objects.filter(ticket_id=ticket.pk).count() == 1


# --- a rule gone behind the cached list ----------------------------------------------------------


def test_a_rule_deleted_behind_the_cached_list_is_skipped_and_the_list_read_again(cast: Cast) -> None:
    """The list of rules is cached; a rule deleted without the cache hearing of it (another
    process's read before the delete committed, or a test's rolled-back rule) is skipped when
    its conditions match, instead of failing the ticket's run at commit."""
    rule = make_rule(cast, cast.acme, name="Gone", event="created", actions=[{"action": "note", "body": "x"}])
    assert [loaded.id for loaded in rules_for(cast.acme)] == [rule.pk]  # read and cached
    Rule.objects.filter(pk=rule.pk).delete()
    ticket = _open(cast, cast.acme, cast.acme_user)
    with customer_schema(cast.acme):
        assert run_event(cast.acme, ticket, Event.CREATED) == 0
    assert not RuleAction.objects.filter(ticket_id=ticket.pk).exists()
    assert rules_for(cast.acme) == []
