"""The automations API: provider admins write rules per customer and provider-wide; bad bodies
are 400s that name the condition or action; other people and other customers' rules are 404;
the dry run lists what a rule would do and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEntry
from automations.models import Rule
from tenants.schema import customer_schema
from tests.automations.conftest import make_rule
from tests.conftest import Cast, api_for
from tickets import workflows

ACME = "/api/v1/customers/acme/automations/"
PROVIDER = "/api/v1/automations/"
BODY: dict[str, Any] = {
    "name": "VPN to Bob",
    "event": "created",
    "conditions": [{"field": "subject", "op": "contains", "value": "vpn"}],
    "actions": [{"action": "note", "body": "Routed."}],
}


def test_an_admin_writes_reads_and_deletes_a_customers_rule(cast: Cast) -> None:
    client = api_for(cast.alice)
    created = client.post(ACME, BODY, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["customer"] == "acme" and rule["owner"] == cast.alice.pk and rule["enabled"] is True
    assert [item["id"] for item in client.get(ACME).json()["results"]] == [rule["id"]]
    assert client.get(PROVIDER).json()["results"] == []
    changed = client.patch(f"{ACME}{rule['id']}/", {"enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    with customer_schema(cast.acme):
        assert (
            AuditEntry.objects.filter(object_pk=str(rule["id"]), actor=cast.alice, channel="api").count() == 2
        )
    assert client.delete(f"{ACME}{rule['id']}/").status_code == 204
    assert not Rule.objects.filter(pk=rule["id"]).exists()


def test_a_provider_wide_rule_lives_in_the_provider_collection(cast: Cast) -> None:
    client = api_for(cast.alice)
    created = client.post(PROVIDER, {**BODY, "name": "Everyone"}, format="json")
    assert created.status_code == 201 and created.json()["customer"] is None
    assert client.get(f"{ACME}{created.json()['id']}/").status_code == 404
    assert AuditEntry.objects.filter(object_pk=str(created.json()["id"]), actor=cast.alice).exists()


DEEP: Any = [[[[[[[[[[[[{"field": "status"}]]]]]]]]]]]]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"conditions": [{"field": "colour", "op": "is", "value": "red"}]},
            "conditions",
            "conditions[0]: 'colour'",
        ),
        ({"conditions": [{"field": "status", "op": "like", "value": "open"}]}, "conditions", "'like' is not"),
        (
            {"conditions": [{"field": "status", "op": "is", "value": "done"}]},
            "conditions",
            "'done' is not a status",
        ),
        (
            {"conditions": [{"field": "priority", "op": "is", "value": "P1"}, {"field": "ci", "op": "is"}]},
            "conditions",
            "conditions[1]: 'value' is required",
        ),
        (
            {"conditions": [{"field": "status", "op": "is", "value": "open", "x": 1}]},
            "conditions",
            "unknown key 'x'",
        ),
        ({"conditions": DEEP}, "conditions", "conditions[0]: needs an object"),
        ({"conditions": {"field": "status"}}, "conditions", "must be a list"),
        ({"actions": [{"action": "explode"}]}, "actions", "actions[0]: 'explode' is not an action"),
        ({"actions": []}, "actions", "at least one action"),
        (
            {"actions": [{"action": "note", "body": "ok"}, {"action": "assign", "to": 999_999}]},
            "actions",
            "actions[1]",
        ),
        ({"actions": [{"action": "assign", "to": "2"}]}, "actions", "needs an id"),
        (
            {"actions": [{"action": "set", "field": "subject", "value": "x"}]},
            "actions",
            "'subject' is not a field",
        ),
        ({"actions": [{"action": "notify", "roles": ["everyone"]}]}, "actions", "'everyone' is not a role"),
        ({"actions": [{"action": "notify"}]}, "actions", "names no one"),
        ({"event": "time"}, "wait", "A time rule needs wait"),
        ({"event": "time", "wait": {"status": "pending", "for": 0, "unit": "hours"}}, "wait", "'for' needs"),
        ({"wait": {"status": "pending", "for": 5, "unit": "hours"}}, "wait", "Only a time rule waits"),
        ({"extra": 1}, "extra", "Unknown field"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_problem(
    cast: Cast, body: dict[str, Any], field: str, words: str
) -> None:
    reply = api_for(cast.alice).post(ACME, {**BODY, **body}, format="json")
    assert reply.status_code == 400, reply.content
    messages = " ".join(reply.json()["fields"][field])
    assert words in messages, messages


def test_an_agent_of_another_customer_is_not_assignable(cast: Cast) -> None:
    """Charlie works Globex only: no Acme rule may assign to him."""
    body = {**BODY, "actions": [{"action": "assign", "to": cast.charlie.pk}]}
    reply = api_for(cast.alice).post(ACME, body, format="json")
    assert reply.status_code == 400
    assert f"user {cast.charlie.pk} is not an agent" in reply.json()["fields"]["actions"][0]


def test_outsiders_never_see_a_customers_rules(cast: Cast) -> None:
    rule = make_rule(cast, cast.globex, **BODY)
    assert api_for(cast.alice).get(f"/api/v1/customers/globex/automations/{rule.pk}/").status_code == 200
    # Another customer's rule through this customer's path; a customer's admin; an agent who is
    # not a member; a huge id.
    assert api_for(cast.alice).get(f"{ACME}{rule.pk}/").status_code == 404
    assert (
        api_for(cast.globex_admin).get(f"/api/v1/customers/globex/automations/{rule.pk}/").status_code == 404
    )
    assert api_for(cast.globex_admin).get(PROVIDER).status_code == 404
    assert api_for(cast.bob).get(f"/api/v1/customers/globex/automations/{rule.pk}/").status_code == 404
    assert api_for(cast.alice).get(f"{ACME}{2**70}/").status_code == 404
    # A member agent who is not an admin is told why not.
    assert api_for(cast.charlie).get("/api/v1/customers/globex/automations/").status_code == 403


def _counts(cast: Cast) -> dict[str, int]:
    with customer_schema(cast.acme), connection.cursor() as cursor:
        counts = {}
        for table in (
            "tickets_ticket",
            "tickets_comment",
            "tickets_ticketevent",
            "audit_auditentry",
            "public.audit_auditentry",
            "public.automation_action",
            "public.automation_rotation",
            "public.automation_time_firing",
            "public.notifications_notification",
        ):
            cursor.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}")  # noqa: S608
            total, last = cursor.fetchone()
            counts[table] = total * 10**9 + last
        cursor.execute(
            "SELECT string_agg(priority || assignee_id::text, ',' ORDER BY id) FROM tickets_ticket"
        )
        counts["values"] = hash(cursor.fetchone()[0])
    return counts


def test_the_dry_run_lists_what_the_rule_would_do_and_writes_nothing(cast: Cast) -> None:
    with customer_schema(cast.acme):
        for subject in ("VPN down", "No VPN at home", "Printer jams"):
            workflows.ticket_create(customer=cast.acme, by=cast.bob, new=workflows.NewTicket(subject=subject))
    rule = make_rule(
        cast,
        cast.acme,
        name="VPN round robin",
        event="created",
        conditions=[{"field": "subject", "op": "contains", "value": "vpn"}],
        actions=[
            {"action": "assign", "to": "round_robin"},
            {"action": "note", "body": "Routed."},
            {"action": "notify", "roles": ["requester"], "users": [cast.bob.pk]},
            {"action": "close"},
        ],
    )
    client = api_for(cast.alice)
    assert client.get(ACME).status_code == 200  # the day's first call notes the admin's activity
    before = _counts(cast)
    reply = client.post(f"{ACME}{rule.pk}/dry-run/", format="json")
    assert reply.status_code == 200, reply.content
    matches = reply.json()["matches"]
    assert sorted(match["subject"] for match in matches) == ["No VPN at home", "VPN down"]
    assert matches[0]["actions"] == [
        "assign round-robin among the member agents",
        "add a private note: Routed.",
        "notify requester, bob",
        "close the ticket",
    ]
    assert _counts(cast) == before


def test_a_reply_rules_dry_run_lists_the_tickets_the_customer_replied_on(cast: Cast) -> None:
    with customer_schema(cast.acme):
        quiet, answered = (
            workflows.ticket_create(
                customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject=subject)
            )
            for subject in ("Quiet", "Answered")
        )
        workflows.comment_add(customer=cast.acme, ticket=answered, by=cast.acme_user, body="Any news?")
    rule = make_rule(cast, cast.acme, name="Replies", event="customer_reply", actions=[{"action": "close"}])
    reply = api_for(cast.alice).post(f"{ACME}{rule.pk}/dry-run/", format="json")
    assert [match["ticket"] for match in reply.json()["matches"]] == [answered.pk]
    assert quiet.pk != answered.pk


def test_a_provider_rule_is_dry_run_on_a_named_customer(cast: Cast) -> None:
    rule = make_rule(cast, None, **BODY)
    client = api_for(cast.alice)
    assert client.post(f"{PROVIDER}{rule.pk}/dry-run/", {}, format="json").status_code == 400
    reply = client.post(f"{PROVIDER}{rule.pk}/dry-run/", {"customer": "acme"}, format="json")
    assert reply.status_code == 200 and reply.json() == {"matches": []}
    assert (
        client.post(f"{PROVIDER}{rule.pk}/dry-run/", {"customer": "nope"}, format="json").status_code == 404
    )
