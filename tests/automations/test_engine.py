"""Rules at work: round robin, precedence, the loop guard, time rules, and what the audit shows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.models import AuditEntry
from automations.engine import LIMIT
from automations.models import Outcome, RuleAction, TimeFiring
from automations.tasks import time_rules
from automations.timed import time_rules_run
from notifications.models import Notification, NotificationKind
from tenants.schema import customer_schema
from tests.automations.conftest import make_rule
from tests.conftest import Cast
from tickets import workflows
from tickets.models import Comment, Status, Ticket
from tickets.types.services import TypeValues, request_type_create
from tickets.types.values import FieldDef


def _open(cast: Cast, subject: str = "Printer jams", by: User | None = None, **kw: Any) -> Ticket:
    with customer_schema(cast.acme):
        return workflows.ticket_create(
            customer=cast.acme, by=by or cast.bob, new=workflows.NewTicket(subject=subject, **kw)
        )


def _agents(cast: Cast, count: int) -> list[User]:
    return [
        agent_create(
            fields=AgentFields(email=f"rr{n}@msp.test", name=f"rr{n}", customers=(cast.acme,)), password=None
        )
        for n in range(count)
    ]


def test_round_robin_spreads_30_tickets_evenly_among_the_member_agents(
    cast: Cast, run_after_commit: Any
) -> None:
    agents = [cast.bob, *_agents(cast, 2)]  # Bob is Acme's member already; Charlie is Globex's only
    make_rule(
        cast,
        cast.acme,
        name="Share the load",
        event="created",
        actions=[{"action": "assign", "to": "round_robin"}],
    )
    with run_after_commit():
        tickets = [_open(cast, f"Request {n}", by=cast.acme_user) for n in range(30)]
    with customer_schema(cast.acme):
        assignees = Counter(
            Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("assignee", flat=True)
        )
    assert assignees == {agent.pk: 10 for agent in agents}


def test_every_action_is_audited_under_the_rule_and_its_owner(cast: Cast, run_after_commit: Any) -> None:
    make_rule(
        cast,
        cast.acme,
        name="VPN to Bob",
        event="created",
        conditions=[{"field": "subject", "op": "contains", "value": "vpn"}],
        actions=[{"action": "assign", "to": cast.bob.pk}, {"action": "note", "body": "Routed by rule."}],
    )
    with run_after_commit():
        vpn = _open(cast, "VPN is down", by=cast.acme_user)
        other = _open(cast, "Printer jams", by=cast.acme_user)
    with customer_schema(cast.acme):
        vpn.refresh_from_db()
        other.refresh_from_db()
        assert vpn.assignee_id == cast.bob.pk and other.assignee_id is None
        entry = AuditEntry.objects.filter(object_pk=str(vpn.pk), job="automation:VPN to Bob").get()
        assert entry.actor_id == cast.alice.pk and entry.channel == "system"
        note = Comment.objects.get(ticket=vpn, public=False)
        assert note.author_job == "automation:VPN to Bob" and note.body == "Routed by rule."


def test_provider_rules_run_before_the_customers_rules(cast: Cast, run_after_commit: Any) -> None:
    customer_rule = make_rule(cast, cast.acme, name="Acme: P4", event="created", actions=[_priority("P4")])
    provider_rule = make_rule(cast, None, name="Everyone: P1", event="created", actions=[_priority("P1")])
    assert customer_rule.position == provider_rule.position == 0
    with run_after_commit():
        ticket = _open(cast)
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.priority == "P4"  # the provider's P1 first, then Acme's own
    done = RuleAction.objects.filter(customer=cast.acme, ticket_id=ticket.pk).order_by("id")
    assert [action.rule_id for action in done] == [provider_rule.pk, customer_rule.pk]


def test_a_provider_rule_runs_for_every_customer_and_a_customers_rule_for_its_own(
    cast: Cast, run_after_commit: Any
) -> None:
    make_rule(cast, cast.globex, name="Globex only", event="created", actions=[_priority("P1")])
    with run_after_commit():
        ticket = _open(cast)
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.priority == "P3"


def _priority(value: str) -> dict[str, str]:
    return {"action": "set", "field": "priority", "value": value}


def test_the_loop_guard_stops_a_self_triggering_pair_with_a_notice(cast: Cast, run_after_commit: Any) -> None:
    up = make_rule(
        cast,
        cast.acme,
        name="P3 up",
        event="updated",
        conditions=[{"field": "priority", "op": "is", "value": "P3"}],
        actions=[_priority("P2")],
    )
    make_rule(
        cast,
        cast.acme,
        name="P2 down",
        event="updated",
        conditions=[{"field": "priority", "op": "is", "value": "P2"}],
        actions=[_priority("P3")],
    )
    ticket = _open(cast, priority="P4")
    with run_after_commit(), customer_schema(cast.acme):
        workflows.ticket_reprioritise(customer=cast.acme, ticket=ticket, by=cast.bob, priority="P3")
    actions = RuleAction.objects.filter(customer=cast.acme, ticket_id=ticket.pk)
    assert actions.filter(outcome=Outcome.DONE).count() == LIMIT
    assert actions.filter(outcome=Outcome.LIMITED).count() == 1
    with customer_schema(cast.acme):
        notes = Comment.objects.filter(ticket=ticket, public=False, body__startswith="Automation paused")
        assert notes.count() == 1
        ticket.refresh_from_db()
    assert ticket.priority == "P3"  # ten actions: five up, five down
    notice = Notification.objects.get(user=cast.alice, kind=NotificationKind.AUTOMATION, ticket_id=ticket.pk)
    assert "loop guard" in notice.title
    # Another change within the minute runs no more actions and says nothing more.
    with run_after_commit(), customer_schema(cast.acme):
        workflows.ticket_reprioritise(customer=cast.acme, ticket=ticket, by=cast.bob, priority="P2")
    assert actions.filter(outcome=Outcome.DONE).count() == LIMIT
    assert actions.filter(outcome=Outcome.LIMITED).count() == 1
    assert up.pk in set(actions.values_list("rule_id", flat=True))


def test_a_rule_does_not_set_itself_off(cast: Cast, run_after_commit: Any) -> None:
    """A rule whose action meets its own conditions again acts once per change from outside."""
    make_rule(
        cast,
        cast.acme,
        name="Note every update",
        event="updated",
        actions=[_priority("P1"), {"action": "note", "body": "Seen."}],
    )
    ticket = _open(cast)
    with run_after_commit(), customer_schema(cast.acme):
        workflows.ticket_reprioritise(customer=cast.acme, ticket=ticket, by=cast.bob, priority="P2")
    assert RuleAction.objects.filter(customer=cast.acme, ticket_id=ticket.pk).count() == 2


def test_a_customers_reply_runs_the_reply_rules(cast: Cast, run_after_commit: Any) -> None:
    make_rule(
        cast,
        cast.acme,
        name="Reply reopens to P2",
        event="customer_reply",
        conditions=[{"field": "assignee", "op": "is", "value": None}],
        actions=[_priority("P2")],
    )
    ticket = _open(cast, by=cast.acme_user)
    with run_after_commit(), customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Noted.", public=False)
        ticket.refresh_from_db()
        assert ticket.priority == "P3"  # an agent's note is no reply of the customer
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="Still broken")
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.priority == "P2"


def test_a_refused_action_is_recorded_and_the_next_one_runs(cast: Cast, run_after_commit: Any) -> None:
    make_rule(
        cast,
        cast.acme,
        name="Closed at once",
        event="created",
        actions=[{"action": "set", "field": "status", "value": "closed"}, _priority("P1")],
    )
    with run_after_commit():
        ticket = _open(cast)
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.priority == "P1"
    refused = RuleAction.objects.get(customer=cast.acme, ticket_id=ticket.pk, outcome=Outcome.REFUSED)
    assert "cannot become closed" in refused.detail


def _pending(cast: Cast) -> Ticket:
    ticket = _open(cast, by=cast.acme_user)
    with customer_schema(cast.acme):
        workflows.comment_add(
            customer=cast.acme, ticket=ticket, by=cast.bob, body="Which printer?", then_status=Status.PENDING
        )
        ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    return ticket


def test_the_time_rule_fires_once_per_stretch(cast: Cast, run_after_commit: Any) -> None:
    make_rule(
        cast,
        cast.acme,
        name="Chase after 5 days",
        event="time",
        wait={"status": "pending", "for": 5, "unit": "business_days"},
        actions=[{"action": "note", "body": "Waiting on the customer for a week."}],
    )
    ticket = _pending(cast)
    now = timezone.now()
    assert time_rules_run(now=now + timedelta(days=3)).fired == 0  # not yet five business days
    later = now + timedelta(days=8)  # five business days have passed, whatever the weekday
    assert time_rules_run(now=later).fired == 1
    assert time_rules_run(now=later + timedelta(hours=1)).fired == 0
    assert time_rules()["fired"] == 0  # the beat task itself (now): not due
    with customer_schema(cast.acme):
        notes = Comment.objects.filter(ticket=ticket, body="Waiting on the customer for a week.")
        assert notes.count() == 1
    assert TimeFiring.objects.filter(ticket_id=ticket.pk, customer=cast.acme).count() == 1
    # Back to open and pending again: a new stretch, which may fire once more.
    with run_after_commit(), customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="The one on floor 2")
        workflows.comment_add(
            customer=cast.acme, ticket=ticket, by=cast.bob, body="Which tray?", then_status=Status.PENDING
        )
    assert time_rules_run(now=later + timedelta(days=8)).fired == 1


def test_business_hours_of_the_tickets_calendar_count_for_a_time_rule(cast: Cast) -> None:
    make_rule(
        cast,
        cast.acme,
        name="Open 2 hours",
        event="time",
        wait={"status": "open", "for": 2, "unit": "hours"},
        conditions=[{"field": "priority", "op": "in", "value": ["P1", "P2"]}],
        actions=[_priority("P1")],
    )
    urgent, calm = _open(cast, priority="P2"), _open(cast, priority="P4")
    assert time_rules_run(now=timezone.now() + timedelta(hours=1)).fired == 0
    assert time_rules_run(now=timezone.now() + timedelta(hours=3)).fired == 1
    with customer_schema(cast.acme):
        urgent.refresh_from_db()
        calm.refresh_from_db()
    assert (urgent.priority, calm.priority) == ("P1", "P4")


def test_request_type_and_custom_fields_in_conditions_and_actions(cast: Cast, run_after_commit: Any) -> None:
    fields = [
        FieldDef(key="site", label="Site", kind="choice", choices=("Berlin", "Paris")),
        FieldDef(key="stage", label="Stage", kind="text"),
    ]
    with customer_schema(cast.acme):
        starter = request_type_create(
            customer=cast.acme, by=cast.alice, values=TypeValues(name="New starter", fields=fields)
        )
    make_rule(
        cast,
        cast.acme,
        name="Berlin starters",
        event="created",
        conditions=[
            {"field": "request_type", "op": "is", "value": starter.pk},
            {"field": "fields.site", "op": "is", "value": "Berlin"},
        ],
        actions=[{"action": "set", "field": "fields.stage", "value": "Badge ordered"}],
    )
    with run_after_commit():
        berlin = _open(cast, request_type=starter, fields={"site": "Berlin"})
        paris = _open(cast, request_type=starter, fields={"site": "Paris"})
    with customer_schema(cast.acme):
        berlin.refresh_from_db()
        paris.refresh_from_db()
    assert berlin.fields == {"site": "Berlin", "stage": "Badge ordered"}
    assert paris.fields == {"site": "Paris"}


def test_notify_tells_the_roles_and_people_named(cast: Cast, run_after_commit: Any) -> None:
    make_rule(
        cast,
        cast.acme,
        name="Tell them",
        event="created",
        conditions=[{"field": "priority", "op": "is", "value": "P1"}],
        actions=[
            {"action": "notify", "roles": ["requester"], "users": [cast.bob.pk], "message": "A P1 came in."}
        ],
    )
    with run_after_commit():
        ticket = _open(cast, "Server room flooded", by=cast.acme_user, priority="P1")
    told = Notification.objects.filter(
        kind=NotificationKind.AUTOMATION, ticket_id=ticket.pk, customer=cast.acme
    )
    assert sorted(told.values_list("user__email", flat=True)) == ["bob@msp.test", "user@acme.test"]
    assert {notice.body for notice in told} == {"A P1 came in."}
