"""Canned responses: who sees and writes which, placeholders, and never another customer's."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEntry
from core.links import portal_link
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console, portal
from tests.tickets.test_api import open_ticket
from tickets.canned.models import CannedResponse
from tickets.models import Comment, Ticket

CANNED = "/api/v1/canned-responses/"
BODY = "Hello {{requester}}, {{agent}} here about {{ reference }} for {{customer}}: {{portal_link}}"


def create(user: Any, **fields: Any) -> Any:
    return api_for(user).post(CANNED, {"name": "Greeting", "body": BODY, **fields}, format="json")


def names(user: Any, query: str = "") -> list[str]:
    response = api_for(user).get(f"{CANNED}{query}")
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


def render(user: Any, response_id: int, customer: str, ticket: int) -> Any:
    return api_for(user).post(
        f"{CANNED}{response_id}/render/", {"customer": customer, "ticket": ticket}, format="json"
    )


def test_placeholders_fill_in_for_the_ticket(cast: Cast) -> None:
    made = create(cast.bob, set_status="pending")
    assert made.status_code == 201, made.content
    data = made.json()
    assert data["scope"] == "personal" and data["owner"] == cast.bob.pk and data["customer"] is None
    assert data["set_status"] == "pending" and data["editable"] is True
    assert data["placeholders"] == ["agent", "customer", "portal_link", "reference", "requester"]
    ticket = open_ticket(cast.acme_user)
    filled = render(cast.bob, data["id"], "acme", ticket["id"])
    assert filled.status_code == 200, filled.content
    link = portal_link(cast.acme.portal_host, "portal-ticket", ticket_id=ticket["id"])
    assert filled.json()["body"] == (
        f"Hello {cast.acme_user.name}, {cast.bob.name} here about {ticket['number']} "
        f"for {cast.acme.name}: {link}"
    )
    assert "{{" not in filled.json()["body"]
    entry = AuditEntry.objects.filter(content_type__model="cannedresponse", object_pk=str(data["id"])).get()
    assert entry.actor == cast.bob and entry.channel == "api"


def test_a_customer_limited_response_is_never_offered_on_another_customers_ticket(cast: Cast) -> None:
    globex_only = create(cast.alice, name="Globex hello", scope="customer", customer="globex").json()
    shared = create(cast.alice, name="Everyone", scope="shared").json()
    acme_ticket = open_ticket(cast.acme_user)
    assert names(cast.alice, "?customer=acme") == ["Everyone"]
    assert names(cast.alice, "?customer=globex") == ["Everyone", "Globex hello"]
    assert render(cast.alice, globex_only["id"], "acme", acme_ticket["id"]).status_code == 404
    assert render(cast.alice, shared["id"], "acme", acme_ticket["id"]).status_code == 200
    # bob works acme only: globex's response does not exist for him, nor do globex's tickets
    assert names(cast.bob) == ["Everyone"]
    assert api_for(cast.bob).get(f"{CANNED}{globex_only['id']}/").status_code == 404
    assert names(cast.bob, "?customer=globex") == ["Everyone"]  # globex's own is not for him
    assert render(cast.bob, shared["id"], "globex", 1).status_code == 404


def test_personal_responses_are_their_owners_and_shared_ones_are_written_by_admins(cast: Cast) -> None:
    mine = create(cast.bob).json()
    assert api_for(cast.alice).get(f"{CANNED}{mine['id']}/").status_code == 404  # personal: not even admins
    assert create(cast.bob, name="For all", scope="shared").status_code == 403
    assert create(cast.bob, name="Acme", scope="customer", customer="acme").status_code == 403
    made_public = api_for(cast.bob).patch(f"{CANNED}{mine['id']}/", {"scope": "shared"}, format="json")
    assert made_public.status_code == 403
    shared = create(cast.alice, name="For all", scope="shared").json()
    assert shared["editable"] is True
    seen_by_bob = api_for(cast.bob).get(f"{CANNED}{shared['id']}/").json()
    assert seen_by_bob["editable"] is False
    assert api_for(cast.bob).delete(f"{CANNED}{shared['id']}/").status_code == 403
    assert api_for(cast.bob).delete(f"{CANNED}{mine['id']}/").status_code == 204
    for outsider in (cast.acme_user, cast.acme_admin):
        assert api_for(outsider).get(CANNED).status_code in (403, 404)


def test_bad_input_is_refused_by_name(cast: Cast) -> None:
    unknown = create(cast.bob, body="Hi {{requester}} {{password}}")
    assert unknown.status_code == 400 and "{{password}}" in str(unknown.json())
    assert create(cast.alice, scope="customer").status_code == 400  # no customer named
    shared_with_customer = create(cast.alice, scope="shared", customer="acme")
    assert shared_with_customer.status_code == 400 and "customer" in str(shared_with_customer.json())
    assert create(cast.alice, scope="customer", customer="nope").status_code == 400
    assert create(cast.bob, set_status="closed").status_code == 400
    assert create(cast.bob, body="   ").status_code == 400
    assert create(cast.bob, name="x" * 81).status_code == 400
    assert create(cast.bob).status_code == 201
    again = create(cast.bob)
    assert again.status_code == 400 and "Greeting" in str(again.json())
    assert api_for(cast.bob).get(f"{CANNED}?customer=%00").status_code == 400
    assert render(cast.bob, 999_999, "acme", 1).status_code == 404


# --- the console's reply box ----------------------------------------------------------------------


def reply(user: Any, ticket_id: int, then: str, **fields: Any) -> Any:
    return console(user).post(
        f"/customers/acme/tickets/{ticket_id}/reply/", {"body": "Does it work now?", "then": then, **fields}
    )


def thread(ticket_id: int) -> list[tuple[str, bool]]:
    with customer_schema(Customer.objects.get(slug="acme")):
        return list(Comment.objects.filter(ticket_id=ticket_id).values_list("body", "public"))


def status_of(ticket_id: int) -> str:
    with customer_schema(Customer.objects.get(slug="acme")):
        return Ticket.objects.get(pk=ticket_id).status


def test_send_and_set_pending_then_send_and_resolve(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    bob = console(cast.bob)
    answer = bob.post(
        f"/customers/acme/tickets/{ticket['id']}/reply/", {"body": "Does it work now?", "then": "pending"}
    )
    assert answer.status_code == 302
    assert status_of(ticket["id"]) == "pending" and thread(ticket["id"]) == [("Does it work now?", True)]
    page = bob.get(answer["Location"]).content.decode()
    assert "Reply sent; the ticket is pending." in page
    assert reply(cast.bob, ticket["id"], "resolved").status_code == 302
    assert status_of(ticket["id"]) == "resolved" and len(thread(ticket["id"])) == 2


def test_a_refused_status_change_refuses_the_reply_too(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    refused = reply(cast.bob, ticket["id"], "pending", visibility="private")  # a note asks nobody
    assert refused.status_code in (400, 409)
    assert "Does it work now?" in refused.content.decode()  # the draft is kept
    assert status_of(ticket["id"]) == "open" and thread(ticket["id"]) == []
    assert reply(cast.bob, ticket["id"], "closed").status_code == 400  # not a button there is


def test_customers_cannot_change_the_status_with_their_reply(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    portal(cast.acme_user).post(f"/tickets/{ticket['id']}/reply/", {"body": "Thanks", "then": "resolved"})
    assert status_of(ticket["id"]) == "open" and thread(ticket["id"]) == [("Thanks", True)]


def test_the_reply_box_offers_this_customers_responses_and_fills_one_in(cast: Cast) -> None:
    mine = create(cast.alice, name="Printer steps", set_status="pending").json()
    globex_only = create(cast.alice, name="Globex printer", scope="customer", customer="globex").json()
    ticket = open_ticket(cast.acme_user)
    base = f"/customers/acme/tickets/{ticket['id']}/canned/"
    offered = console(cast.alice).get(f"{base}?q=printer").content.decode()
    assert "Printer steps" in offered and "Globex printer" not in offered
    filled = console(cast.alice).get(f"{base}fill/?response={mine['id']}")
    assert filled.status_code == 200
    html = filled.content.decode()
    assert f"Hello {cast.acme_user.name}, {cast.alice.name} here about {ticket['number']}" in html
    assert "Send and set pending" in html
    assert console(cast.alice).get(f"{base}fill/?response={globex_only['id']}").status_code == 404
    assert console(cast.alice).get(f"{base}fill/?response=%C2%B2").status_code == 400
    assert console(cast.alice).get(f"{base}fill/").status_code == 400
    assert console(cast.acme_it).get(base).status_code == 404  # the customer's own agents: not theirs


# --- the console's page ---------------------------------------------------------------------------


def test_the_console_page_lists_creates_edits_and_deletes(cast: Cast) -> None:
    alice = console(cast.alice)
    made = alice.post(
        "/canned/",
        {"name": "Acme printers", "body": "Hi {{requester}}", "scope": "customer", "customer": "acme"},
    )
    assert made.status_code == 302
    page = alice.get("/canned/").content.decode()
    assert "Acme printers" in page and "Acme" in page
    response = CannedResponse.objects.get(name="Acme printers")
    assert response.customer == cast.acme and response.scope == "customer"
    refused = alice.post("/canned/", {"name": "Bad", "body": "{{nope}}", "scope": "personal"})
    assert refused.status_code == 400 and "{{nope}}" in refused.content.decode()
    assert not CannedResponse.objects.filter(name="Bad").exists()
    edited = alice.post(
        f"/canned/{response.pk}/",
        {"name": "Acme printers", "body": "Hello {{requester}}", "scope": "customer", "customer": "acme"},
    )
    assert edited.status_code == 302
    response.refresh_from_db()
    assert response.body == "Hello {{requester}}"
    # bob works acme: he reads it, may not change it; his own scope choice is personal only
    bob = console(cast.bob)
    assert "Acme printers" in bob.get("/canned/").content.decode()
    assert bob.post(f"/canned/{response.pk}/", {"delete": "1"}).status_code == 403
    assert bob.post("/canned/", {"name": "Mine", "body": "x", "scope": "shared"}).status_code == 400
    assert bob.post("/canned/", {"name": "Mine", "body": "x", "scope": "personal"}).status_code == 302
    # charlie works globex only: acme's does not exist for him
    assert console(cast.charlie).get(f"/canned/{response.pk}/").status_code == 404
    assert alice.post(f"/canned/{response.pk}/", {"delete": "1"}).status_code == 302
    assert not CannedResponse.objects.filter(pk=response.pk).exists()


def test_the_first_public_reply_by_an_agent_takes_an_unassigned_ticket(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    comments = f"/api/v1/customers/acme/tickets/{ticket['id']}/comments/"

    def assignee() -> int | None:
        with customer_schema(cast.acme):
            return Ticket.objects.get(pk=ticket["id"]).assignee_id

    assert api_for(cast.acme_user).post(comments, {"body": "More detail"}, format="json").status_code == 201
    assert (
        api_for(cast.bob).post(comments, {"body": "note", "public": False}, format="json").status_code == 201
    )
    assert assignee() is None  # neither the customer's reply nor a private note takes it
    assert api_for(cast.bob).post(comments, {"body": "On it"}, format="json").status_code == 201
    assert assignee() == cast.bob.pk
    with customer_schema(cast.acme):  # a ticket's entries are in its customer's schema
        entry = AuditEntry.objects.filter(content_type__model="ticket", object_pk=str(ticket["id"])).latest(
            "pk"
        )
    assert entry.actor == cast.bob and "assignee" in entry.changes
    assert api_for(cast.alice).post(comments, {"body": "Me too"}, format="json").status_code == 201
    assert assignee() == cast.bob.pk  # only an unassigned ticket is taken
