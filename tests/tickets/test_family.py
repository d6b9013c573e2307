"""Working a ticket together: merge (and its undo), links and the parent rule, collaborators
(django-guardian in the customer's schema), watchers, @mentions and one-action replies over the
API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone
from guardian.models import UserObjectPermission

from audit.models import AuditEntry
from notifications.models import Notification
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console, portal
from tests.tickets.test_api import TICKETS, open_ticket, patch, reply
from tests.tickets.test_notifications import run_events
from tickets.models import Comment, Merge, Ticket, TicketLink


def url(ticket: dict[str, Any], tail: str = "") -> str:
    return f"{TICKETS}{ticket['id']}/{tail}"


def merge(user: Any, duplicate: dict[str, Any], into: Any) -> Any:
    return api_for(user).post(url(duplicate, "merge/"), {"into": into}, format="json")


def read(user: Any, ticket: dict[str, Any]) -> dict[str, Any]:
    response = api_for(user).get(url(ticket))
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def timeline_reasons(cast: Cast, ticket_id: int) -> list[str]:
    with customer_schema(cast.acme):
        segments = Ticket.objects.get(pk=ticket_id).sla_segments
    return [str(segment.get("reason", "")) for segment in segments]


def test_merge_shows_both_threads_in_the_target_and_replies_to_the_duplicate_land_there(cast: Cast) -> None:
    target = open_ticket(cast.acme_user, subject="Mail is down")
    duplicate = open_ticket(cast.acme_user2, subject="No email since 9")
    assert reply(cast.acme_user2, duplicate, "Still nothing").status_code == 201
    assert reply(cast.bob, target, "Looking into it").status_code == 201

    merged = merge(cast.bob, duplicate, target["number"])  # by reference; ids work too
    assert merged.status_code == 200, merged.content
    assert merged.json()["id"] == target["id"]
    dup = read(cast.bob, duplicate)
    assert dup["status"] == "closed" and dup["merged_into"] == target["id"]
    # the target holds both threads
    thread = api_for(cast.bob).get(url(target, "comments/")).json()["results"]
    assert [c["body"] for c in thread] == ["Still nothing", "Looking into it"]
    # the duplicate's requester is copied on the target: they see it and both threads
    assert [c["user"] for c in read(cast.bob, target)["collaborators"]] == [cast.profile(cast.acme_user2).pk]
    page = portal(cast.acme_user2).get(f"/tickets/{target['id']}/")
    assert page.status_code == 200 and b"Still nothing" in page.content and b"Looking into it" in page.content
    # the portal sends the duplicate's page to the target, and lists one ticket
    assert (
        portal(cast.acme_user2).get(f"/tickets/{duplicate['id']}/")["Location"] == f"/tickets/{target['id']}/"
    )
    listed = portal(cast.acme_user2).get("/?show=all").content.decode()
    assert target["number"] in listed and f">{duplicate['number']}<" not in listed

    # later replies to the duplicate, by API and in the portal, go to the target
    answered = reply(cast.acme_user2, duplicate, "Works again, thanks")
    assert answered.status_code == 201, answered.content
    assert answered.json()["ticket"] == target["id"]
    posted = portal(cast.acme_user2).post(f"/tickets/{duplicate['id']}/reply/", {"body": "One more thing"})
    assert posted.status_code == 302 and posted["Location"] == f"/tickets/{target['id']}/"
    with customer_schema(cast.acme):
        assert list(Comment.objects.filter(ticket_id=target["id"]).values_list("body", flat=True)) == [
            "Looking into it",
            "Works again, thanks",
            "One more thing",
        ]
        assert Comment.objects.filter(ticket_id=duplicate["id"]).count() == 1

    # the SLA: the duplicate's clocks stop at the merge, named; the target keeps its own
    assert timeline_reasons(cast, duplicate["id"])[-1] == f"merged into {target['number']}"
    sla = api_for(cast.bob).get(url(duplicate, "sla/")).json()
    assert f"merged into {target['number']}" in str(sla)
    assert all("merged" not in reason for reason in timeline_reasons(cast, target["id"]))
    assert read(cast.bob, target)["status"] == "open"
    # audited, with the person and the channel
    with customer_schema(cast.acme):
        entry = AuditEntry.objects.get(content_type__model="merge")
        assert entry.actor == cast.bob and entry.channel == "api"


def test_a_merge_across_customers_is_a_404_and_customers_cannot_merge(cast: Cast) -> None:
    acme_ticket = open_ticket(cast.acme_user)
    other = open_ticket(cast.acme_user)
    globex_ticket = (
        api_for(cast.globex_user)
        .post("/api/v1/customers/globex/tickets/", {"subject": "Globex"}, format="json")
        .json()
    )
    assert merge(cast.alice, acme_ticket, globex_ticket["number"]).status_code == 404
    assert merge(cast.alice, acme_ticket, 999_999).status_code == 404
    # an agent of acme only: globex's ticket page is 404 too, whatever the body
    refused = api_for(cast.bob).post(
        f"/api/v1/customers/globex/tickets/{globex_ticket['id']}/merge/", {"into": 1}, format="json"
    )
    assert refused.status_code == 404
    assert merge(cast.acme_user, acme_ticket, other["id"]).status_code == 403
    assert merge(cast.bob, acme_ticket, acme_ticket["id"]).status_code == 400
    assert merge(cast.bob, acme_ticket, "not a ticket").status_code == 400
    with customer_schema(cast.acme):
        assert not Merge.objects.exists()
        assert Ticket.objects.get(pk=acme_ticket["id"]).status == "open"


def test_a_merge_is_undone_within_a_day_and_not_after(cast: Cast) -> None:
    target = open_ticket(cast.acme_user)
    duplicate = open_ticket(cast.acme_user2)
    assert merge(cast.bob, duplicate, target["id"]).status_code == 200
    undone = api_for(cast.bob).delete(url(duplicate, "merge/"))
    assert undone.status_code == 200, undone.content
    assert undone.json()["status"] == "open" and undone.json()["merged_into"] is None
    assert timeline_reasons(cast, duplicate["id"])[-1] == f"merge into {target['number']} undone"
    # the collaborator the merge added lost the access again
    assert api_for(cast.acme_user2).get(url(target)).status_code == 404
    assert api_for(cast.bob).delete(url(duplicate, "merge/")).status_code == 409  # nothing to undo
    # the history tells both, in words, to the agent and to the duplicate's requester
    for page in (
        console(cast.bob).get(f"/customers/acme/tickets/{duplicate['id']}/"),
        portal(cast.acme_user2).get(f"/tickets/{duplicate['id']}/"),
    ):
        text = page.content.decode()
        assert f"merged this ticket into {target['number']}" in text
        assert f"undid the merge into {target['number']}" in text

    assert merge(cast.bob, duplicate, target["id"]).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        late = api_for(cast.bob).delete(url(duplicate, "merge/"))
    assert late.status_code == 409 and late.json()["code"] == "undo_expired"


def test_a_breach_recorded_before_the_merge_stays_recorded(cast: Cast) -> None:
    target = open_ticket(cast.acme_user)
    duplicate = open_ticket(cast.acme_user2, priority="P1")
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        assert merge(cast.bob, duplicate, target["id"]).status_code == 200
    dup = read(cast.bob, duplicate)
    assert dup["sla"]["resolution_breached"] is True and dup["sla"]["first_response_breached"] is True
    with customer_schema(cast.acme):
        stored = Ticket.objects.get(pk=duplicate["id"])
        assert stored.resolution_breached_at is not None


def test_a_parent_cannot_resolve_while_a_child_is_open(cast: Cast) -> None:
    parent = open_ticket(cast.acme_user, subject="Office move")
    child = open_ticket(cast.acme_user, subject="Move the printer")
    other_child = open_ticket(cast.acme_user, subject="Move the switch")
    related = open_ticket(cast.acme_user, subject="Badge readers")
    linked = api_for(cast.bob).post(
        url(child, "links/"), {"kind": "parent", "ticket": parent["id"]}, format="json"
    )
    assert linked.status_code == 201, linked.content
    assert linked.json()["kind"] == "parent" and linked.json()["ticket"] == parent["id"]
    second = api_for(cast.bob).post(
        url(parent, "links/"), {"kind": "child", "ticket": other_child["number"]}, format="json"
    )
    assert second.status_code == 201, second.content
    assert (
        api_for(cast.bob)
        .post(url(parent, "links/"), {"kind": "related", "ticket": related["id"]})
        .status_code
        == 201
    )
    # a cycle and a second parent are refused
    cycle = api_for(cast.bob).post(
        url(parent, "links/"), {"kind": "parent", "ticket": child["id"]}, format="json"
    )
    assert cycle.status_code == 409 and cycle.json()["code"] == "already_linked"
    grandchild = open_ticket(cast.acme_user)
    api_for(cast.bob).post(url(child, "links/"), {"kind": "child", "ticket": grandchild["id"]}, format="json")
    loop = api_for(cast.bob).post(url(parent, "links/"), {"kind": "parent", "ticket": grandchild["id"]})
    assert loop.status_code == 400 and loop.json()["code"] == "link_cycle"

    family = {(link["kind"], link["ticket"]) for link in read(cast.bob, parent)["links"]}
    assert family == {("child", child["id"]), ("child", other_child["id"]), ("related", related["id"])}
    page = console(cast.bob).get(f"/customers/acme/tickets/{parent['id']}/").content.decode()
    assert child["number"] in page and other_child["number"] in page

    refused = patch(cast.bob, parent, status="resolved")
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "children_open"
    assert child["number"] in refused.json()["detail"] and other_child["number"] in refused.json()["detail"]
    assert patch(cast.bob, child, status="resolved").json()["code"] == "children_open"  # its own child
    assert patch(cast.bob, grandchild, status="resolved").status_code == 200
    assert patch(cast.bob, child, status="resolved").status_code == 200
    still = patch(cast.bob, parent, status="resolved")
    assert still.status_code == 400 and child["number"] not in still.json()["detail"]
    assert patch(cast.bob, other_child, status="resolved").status_code == 200
    assert patch(cast.bob, parent, status="resolved").status_code == 200
    # links are audited; an unlink too
    link_id = linked.json()["id"]
    assert api_for(cast.bob).delete(url(child, f"links/{link_id}/")).status_code == 204
    with customer_schema(cast.acme):
        assert not TicketLink.objects.filter(pk=link_id).exists()
        actions = set(
            AuditEntry.objects.filter(content_type__model="ticketlink").values_list("action", flat=True)
        )
        assert actions == {AuditEntry.Action.CREATE, AuditEntry.Action.DELETE}


def test_a_copied_colleague_sees_and_answers_then_loses_access_at_once(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user, subject="Shared drive")
    colleague = cast.acme_user2
    assert api_for(colleague).get(url(ticket)).status_code == 404
    added = api_for(cast.acme_user).post(
        url(ticket, "collaborators/"), {"user": colleague.email}, format="json"
    )
    assert added.status_code == 201, added.content
    profile_id = cast.profile(colleague).pk
    assert added.json() == {"user": profile_id, "name": colleague.name, "email": colleague.email}
    # a per-object permission in acme's own schema, not in the public one
    with customer_schema(cast.acme):
        assert UserObjectPermission.objects.filter(user=colleague, object_pk=str(ticket["id"])).count() == 1
    with customer_schema(cast.globex):
        assert not UserObjectPermission.objects.exists()

    assert read(colleague, ticket)["subject"] == "Shared drive"
    assert portal(colleague).get(f"/tickets/{ticket['id']}/").status_code == 200
    assert "Shared drive" in portal(colleague).get("/").content.decode()
    assert reply(colleague, ticket, "I see it too").status_code == 201
    assert reply(colleague, ticket, "note", public=False).status_code == 403

    # only agents, the requester and the company's admins copy people
    assert (
        api_for(colleague).post(url(ticket, "collaborators/"), {"user": cast.acme_admin.email}).status_code
        == 403
    )
    assert (
        api_for(cast.acme_user).post(url(ticket, "collaborators/"), {"user": "nobody@acme.test"}).status_code
        == 400
    )
    globex_person = api_for(cast.bob).post(url(ticket, "collaborators/"), {"user": cast.globex_user.email})
    assert globex_person.status_code == 400  # not a user of this customer

    removed = api_for(cast.acme_admin).delete(url(ticket, f"collaborators/{profile_id}/"))
    assert removed.status_code == 204
    assert api_for(colleague).get(url(ticket)).status_code == 404
    assert portal(colleague).get(f"/tickets/{ticket['id']}/").status_code == 404
    assert reply(colleague, ticket, "Still here?").status_code == 404
    with customer_schema(cast.acme):
        entries = AuditEntry.objects.filter(content_type__model="userobjectpermission")
        assert {(e.action, e.actor_id) for e in entries} == {
            (AuditEntry.Action.CREATE, cast.acme_user.pk),
            (AuditEntry.Action.DELETE, cast.acme_admin.pk),
        }


def test_collaborators_and_watchers_hear_of_replies_and_mentions_reach_the_named_agent(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user, subject="Laptop")
    api_for(cast.bob).post(url(ticket, "collaborators/"), {"user": cast.acme_user2.email})
    assert (
        console(cast.alice)
        .post(f"/customers/acme/tickets/{ticket['id']}/watch/", {"watch": "true"})
        .status_code
        == 302
    )
    note = reply(cast.bob, ticket, "@alice can you approve the spare?", public=False)
    assert note.status_code == 201
    assert reply(cast.bob, ticket, "We ship a spare today").status_code == 201
    with customer_schema(cast.acme):
        run_events(cast.acme, Ticket.objects.get(pk=ticket["id"]))

    def told(user: Any) -> set[str]:
        return set(Notification.objects.filter(user=user).values_list("kind", flat=True))

    assert "ticket_mention" in told(cast.alice) and "ticket_reply" in told(cast.alice)
    assert "ticket_reply" in told(cast.acme_user2) and "ticket_reply" in told(cast.acme_user)
    mention = Notification.objects.get(user=cast.alice, kind="ticket_mention")
    assert "mentioned you" in mention.title and "approve the spare" in mention.body
    # the private note reached no customer
    assert not Notification.objects.filter(kind="ticket_mention").exclude(user=cast.alice).exists()


def test_send_and_set_pending_over_the_api(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    sent = api_for(cast.bob).post(
        url(ticket, "comments/"), {"body": "Which floor are you on?", "set_status": "pending"}, format="json"
    )
    assert sent.status_code == 201, sent.content
    data = read(cast.bob, ticket)
    assert data["status"] == "pending" and data["assignee"] == cast.bob.pk  # the first reply took it
    refused = api_for(cast.acme_user).post(
        url(ticket, "comments/"), {"body": "Third", "set_status": "resolved"}, format="json"
    )
    assert refused.status_code == 403
    with customer_schema(cast.acme):
        assert Comment.objects.filter(ticket_id=ticket["id"]).count() == 1  # nothing half written


def test_links_in_a_ticket_read_never_name_a_colleagues_ticket(cast: Cast) -> None:
    mine = open_ticket(cast.acme_user, subject="Mine")
    theirs = open_ticket(cast.acme_user2, subject="colleague-secret-subject")
    assert (
        api_for(cast.bob).post(url(mine, "links/"), {"kind": "related", "ticket": theirs["id"]}).status_code
        == 201
    )
    assert [link["ticket"] for link in read(cast.bob, mine)["links"]] == [theirs["id"]]
    assert read(cast.acme_user, mine)["links"] == []
    listed = api_for(cast.acme_user).get(TICKETS).content.decode()
    assert "colleague-secret-subject" not in listed
    assert api_for(cast.acme_user).get(url(mine, "links/")).json() == []
    assert [link["ticket"] for link in read(cast.acme_admin, mine)["links"]] == [theirs["id"]]


def test_undoing_one_merge_keeps_the_access_another_merge_still_needs(cast: Cast) -> None:
    target = open_ticket(cast.acme_admin)
    first, second = open_ticket(cast.acme_user), open_ticket(cast.acme_user)
    assert merge(cast.bob, first, target["id"]).status_code == 200
    assert merge(cast.bob, second, target["id"]).status_code == 200
    assert api_for(cast.bob).delete(url(first, "merge/")).status_code == 200
    assert api_for(cast.acme_user).get(url(target)).status_code == 200  # second still merged there
    assert api_for(cast.bob).delete(url(second, "merge/")).status_code == 200
    assert api_for(cast.acme_user).get(url(target)).status_code == 404


def test_a_collaborator_reads_and_replies_but_does_not_decide(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    api_for(cast.acme_user).post(url(ticket, "collaborators/"), {"user": cast.acme_user2.email})
    assert patch(cast.acme_user2, ticket, priority="P4").status_code == 403
    assert patch(cast.bob, ticket, status="resolved").status_code == 200
    assert patch(cast.acme_user2, ticket, status="open").status_code == 403
    assert (
        portal(cast.acme_user2).post(f"/tickets/{ticket['id']}/status/", {"status": "closed"}).status_code
        == 403
    )
    assert patch(cast.acme_user, ticket, status="closed").status_code == 200  # the requester decides
    late = api_for(cast.acme_user).post(url(ticket, "collaborators/"), {"user": cast.acme_admin.email})
    assert late.status_code == 409 and late.json()["code"] == "ticket_closed"


def test_a_duplicates_collaborator_cannot_write_on_a_target_they_cannot_open(cast: Cast) -> None:
    duplicate = open_ticket(cast.acme_user)
    api_for(cast.acme_user).post(url(duplicate, "collaborators/"), {"user": cast.acme_user2.email})
    target = open_ticket(cast.acme_admin)
    assert merge(cast.bob, duplicate, target["id"]).status_code == 200
    refused = reply(cast.acme_user2, duplicate, "Me too")
    assert refused.status_code == 403, refused.content
    assert reply(cast.acme_user, duplicate, "Thanks").status_code == 201  # copied on the target


def test_the_parent_rule_holds_when_linking_and_merging(cast: Cast) -> None:
    parent, child = open_ticket(cast.acme_user), open_ticket(cast.acme_user)
    assert patch(cast.bob, parent, status="resolved").status_code == 200
    late = api_for(cast.bob).post(url(child, "links/"), {"kind": "parent", "ticket": parent["id"]})
    assert late.status_code == 409 and late.json()["code"] == "parent_resolved"
    other_parent = open_ticket(cast.acme_user)
    api_for(cast.bob).post(url(child, "links/"), {"kind": "parent", "ticket": other_parent["id"]})
    target = open_ticket(cast.acme_user)
    refused = merge(cast.bob, other_parent, target["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "children_open"
