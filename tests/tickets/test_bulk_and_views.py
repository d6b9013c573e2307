"""Bulk changes (POST /api/v1/tickets/bulk/ and the console's bulk bar) and saved views
(/api/v1/views/ and the console's tabs): per-ticket outcomes through the workflows, audit,
isolation, owner rules, validation."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEntry
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console
from tests.tickets.conftest import make_ticket
from tickets.index.models import SavedView
from tickets.models import Comment, Ticket

BULK = "/api/v1/tickets/bulk/"
VIEWS = "/api/v1/views/"


def bulk(user: Any, body: dict[str, Any]) -> Any:
    return api_for(user).post(BULK, body, format="json")


def test_bulk_assign_reports_each_ticket_and_audits_each_change(cast: Cast) -> None:
    one, two = make_ticket(cast, cast.acme_user, "one"), make_ticket(cast, cast.acme_user, "two")
    foreign = make_ticket(cast, cast.globex_user, "globex")  # Bob is not a Globex member
    tickets = [
        {"customer": "acme", "id": one.pk},
        {"customer": "globex", "id": foreign.pk},
        {"customer": "acme", "id": two.pk},
        {"customer": "acme", "id": 999_999},
        {"customer": "nowhere", "id": 1},
    ]
    response = bulk(cast.bob, {"tickets": tickets, "action": "assign", "value": "me"})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, True, False, False]
    assert results[0] == {"customer": "acme", "id": one.pk, "ok": True}
    for refused in (results[1], results[3], results[4]):  # never revealing that one exists
        assert refused["code"] == "not_found" and refused["detail"] == "No such ticket."
    with customer_schema(cast.acme):
        assert set(Ticket.objects.filter(pk__in=[one.pk, two.pk]).values_list("assignee_id", flat=True)) == {
            cast.bob.pk
        }
        entries = AuditEntry.objects.filter(object_pk__in=[str(one.pk), str(two.pk)], actor=cast.bob)
        assert entries.count() == 2 and {e.channel for e in entries} == {"api"}
    with customer_schema(cast.globex):
        assert Ticket.objects.get(pk=foreign.pk).assignee_id is None


def test_bulk_status_refuses_one_and_keeps_the_others(cast: Cast) -> None:
    asked = make_ticket(cast, cast.acme_user, "asked")
    with customer_schema(cast.acme):
        from tickets import workflows

        workflows.comment_add(customer=cast.acme, ticket=asked, by=cast.bob, body="Which printer?")
    silent = make_ticket(cast, cast.acme_user, "silent")
    body = {
        "tickets": [{"customer": "acme", "id": silent.pk}, {"customer": "acme", "id": asked.pk}],
        "action": "status",
        "value": "pending",
    }
    results = bulk(cast.bob, body).json()["results"]
    assert results[0]["ok"] is False and results[0]["code"] == "pending_needs_question"
    assert results[1] == {"customer": "acme", "id": asked.pk, "ok": True}
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=asked.pk).status == "pending"
        assert Ticket.objects.get(pk=silent.pk).status == "open"


def test_bulk_priority_and_private_note(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "noted")
    target = [{"customer": "acme", "id": ticket.pk}]
    assert bulk(cast.alice, {"tickets": target, "action": "priority", "value": "P1"}).json()["results"][0][
        "ok"
    ]
    assert bulk(cast.alice, {"tickets": target, "action": "note", "value": "Called them"}).json()["results"][
        0
    ]["ok"]
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket.pk).priority == "P1"
        note = Comment.objects.get(ticket_id=ticket.pk, body="Called them")
        assert note.public is False and note.author_id == cast.alice.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "delete", "value": "x"}, "action"),
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "status", "value": "done"}, "value"),
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "priority", "value": 1}, "value"),
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "assign", "value": "someone"}, "value"),
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "note", "value": "  "}, "value"),
        ({"tickets": [{"customer": "acme", "id": "٣"}], "action": "note", "value": "x"}, "tickets"),
        ({"tickets": [{"customer": "acme", "id": "3"}], "action": "note", "value": "x"}, "tickets"),
        ({"tickets": [{"customer": "ACME!", "id": 3}], "action": "note", "value": "x"}, "tickets"),
        ({"tickets": [{"customer": "acme", "id": 1, "x": 1}], "action": "note", "value": "x"}, "tickets"),
        (
            {
                "tickets": [{"customer": "acme", "id": n} for n in range(1, 502)],
                "action": "note",
                "value": "x",
            },
            "tickets",
        ),
        ({"tickets": [], "action": "note", "value": "x"}, "tickets"),
        ({"tickets": [{"customer": "acme", "id": 1}], "action": "note", "value": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_bulk_input_is_400_naming_the_field(cast: Cast, body: dict[str, Any], field: str) -> None:
    response = bulk(cast.bob, body)
    assert response.status_code == 400, response.content
    assert any(name.startswith(field) for name in response.json()["fields"]), response.json()


def test_bulk_note_with_nul_is_refused(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "nul")
    body = {"tickets": [{"customer": "acme", "id": ticket.pk}], "action": "note", "value": "a\x00b"}
    assert bulk(cast.bob, body).status_code == 400
    with customer_schema(cast.acme):
        assert not Comment.objects.filter(ticket_id=ticket.pk).exists()


def test_bulk_and_views_are_for_provider_agents_only(cast: Cast) -> None:
    for user in (cast.acme_user, cast.acme_admin, cast.acme_it):
        assert (
            bulk(
                user, {"tickets": [{"customer": "acme", "id": 1}], "action": "note", "value": "x"}
            ).status_code
            == 404
        )
        assert api_for(user).get(VIEWS).status_code == 404
    assert api_for(None).post(BULK, {}, format="json").status_code == 401


def test_console_bulk_bar_and_assign_to_me(cast: Cast) -> None:
    one, two = make_ticket(cast, cast.acme_user, "c-one"), make_ticket(cast, cast.acme_user, "c-two")
    closed = make_ticket(cast, cast.acme_user, "c-closed")
    with customer_schema(cast.acme):
        from tickets import workflows

        for status in ("resolved", "closed"):
            workflows.ticket_transition(customer=cast.acme, ticket=closed, by=cast.bob, status=status)
    client = console(cast.bob)
    page = client.get("/").content.decode()
    assert "data-assign-me" in page and "data-open" in page and 'data-label="SLA"' in page
    response = client.post(
        "/queue/bulk/",
        {
            "ticket": [f"acme:{one.pk}", f"acme:{closed.pk}", f"acme:{two.pk}"],
            "action": "assign",
            "assign": "me",
            "next": "/?status=open,pending,resolved,closed",
        },
        follow=True,
    )
    text = response.content.decode()
    assert f"ACME-{one.number}: changed" in text and f"ACME-{two.number}: changed" in text
    assert f"ACME-{closed.number}: A closed ticket cannot be changed." in text
    with customer_schema(cast.acme):
        assert AuditEntry.objects.filter(object_pk=str(one.pk), actor=cast.bob, channel="web").exists()
    # every ticket matching the filters (the closed one refuses a note? no: notes need an open ticket)
    response = client.post(
        "/queue/bulk/",
        {"matching": "on", "query": "customer=acme&priority=P3", "action": "priority", "priority": "P2"},
        follow=True,
    )
    assert f"ACME-{one.number}: changed" in response.content.decode()
    # a bad value is named, nothing changes
    response = client.post(
        "/queue/bulk/", {"ticket": f"acme:{one.pk}", "action": "status", "status": "done"}, follow=True
    )
    assert "status:" in response.content.decode()
    assert client.post("/queue/bulk/", {"ticket": "acme:²", "action": "assign"}).status_code == 302


def test_saved_views_owner_rules_validation_and_audit(cast: Cast) -> None:
    listed = api_for(cast.bob).get(VIEWS).json()["results"]
    names = [view["name"] for view in listed]
    assert names[:5] == ["My open", "Unassigned", "At risk", "Breached", "Customer replied"]
    builtin = listed[0]
    assert builtin["builtin"] and not builtin["editable"]
    assert api_for(cast.alice).delete(f"{VIEWS}{builtin['id']}/").status_code == 403

    mine = api_for(cast.bob).post(
        VIEWS,
        {"name": "P1 Acme", "filters": {"priority": "P1", "customer": "acme"}, "ordering": "next_due"},
        format="json",
    )
    assert mine.status_code == 201, mine.content
    view_id = mine.json()["id"]
    assert AuditEntry.objects.filter(object_pk=str(view_id), actor=cast.bob, channel="api").exists()
    assert api_for(cast.charlie).get(f"{VIEWS}{view_id}/").status_code == 404  # personal
    assert api_for(cast.bob).patch(f"{VIEWS}{view_id}/", {"shared": True}, format="json").status_code == 200
    assert api_for(cast.charlie).get(f"{VIEWS}{view_id}/").status_code == 200  # shared now
    assert api_for(cast.charlie).patch(f"{VIEWS}{view_id}/", {"name": "x"}, format="json").status_code == 403
    assert api_for(cast.charlie).delete(f"{VIEWS}{view_id}/").status_code == 403
    assert api_for(cast.alice).patch(f"{VIEWS}{view_id}/", {"name": "P1s"}, format="json").status_code == 200
    bad = api_for(cast.bob).patch(f"{VIEWS}{view_id}/", {"filters": {"status": "done"}}, format="json")
    assert bad.status_code == 400 and "filters" in bad.json()["fields"]
    assert SavedView.objects.get(pk=view_id).filters == {"priority": "P1", "customer": "acme"}
    assert api_for(cast.bob).delete(f"{VIEWS}{view_id}/").status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "filters": {"colour": "red"}}, "filters"),
        ({"name": "x", "filters": {"sla": "late"}}, "filters"),
        ({"name": "x", "filters": {"assignee": "٣"}}, "filters"),
        ({"name": "x", "filters": {"status": "open"}, "ordering": "colour"}, "ordering"),
        ({"name": "", "filters": {}}, "name"),
        ({"name": "My open"}, "name"),
        ({"name": "x", "filters": {"status": 1}}, "filters"),
        ({"name": "x", "owner": 1, "sharing": True}, "sharing"),
    ],
)
def test_bad_views_are_400_naming_the_field(cast: Cast, body: dict[str, Any], field: str) -> None:
    response = api_for(cast.bob).post(VIEWS, body, format="json")
    assert response.status_code == 400, response.content
    assert any(name.startswith(field) for name in response.json()["fields"]), response.json()


def test_console_tabs_save_rename_and_delete_a_view(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    from tickets import console as pages

    monkeypatch.setattr(pages, "TAB_COUNT_CAP", 3)
    for n in range(3):
        make_ticket(cast, cast.acme_user, f"unassigned {n}")
    client = console(cast.bob)
    page = client.get("/").content.decode()
    assert 'data-view="Unassigned"' in page and "2+" in page and "data-unassigned>2+<" in page
    response = client.post("/queue/views/", {"name": "Mine P1", "query": "priority=P1&assignee=me"})
    assert response.status_code == 302 and "?view=" in response["Location"]
    view = SavedView.objects.get(owner=cast.bob, name="Mine P1")
    assert view.filters == {"priority": "P1", "assignee": "me"}
    page = client.get(response["Location"]).content.decode()
    assert 'data-view="Mine P1"' in page and 'aria-current="page">Mine P1' in page
    assert '<option value="P1" selected' in page
    client.post(f"/queue/views/{view.pk}/", {"name": "Mine, P1"})
    assert SavedView.objects.get(pk=view.pk).name == "Mine, P1"
    assert console(cast.alice).post(f"/queue/views/{view.pk}/", {"name": "x"}).status_code == 404  # personal
    client.post(f"/queue/views/{view.pk}/", {"name": "Mine, P1", "delete": "1"})
    assert not SavedView.objects.filter(pk=view.pk).exists()
    bad = client.post("/queue/views/", {"name": "Bad", "query": "status=done"}, follow=True)
    assert "filters" in bad.content.decode() and not SavedView.objects.filter(name="Bad").exists()
