"""GET /api/v1/search/ and ?q= on the ticket lists, against the real index (PostgreSQL full-text
search in the public schema), for every member of the cast."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import User
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.index.models import TicketSearchEntry
from tickets.index.search import highlighted
from tickets.models import Ticket

SEARCH = "/api/v1/search/"


def found(user: User, query: str) -> set[tuple[str, str]]:
    response = api_for(user).get(SEARCH, {"q": query})
    assert response.status_code == 200, response.content
    return {(hit["customer"], hit["subject"]) for hit in response.json()["results"]}


def note(cast: Cast, ticket: Ticket, by: User, body: str, *, public: bool) -> None:
    customer = by.customer or cast.acme
    with customer_schema(customer):
        workflows.comment_add(customer=customer, ticket=ticket, by=by, body=body, public=public)


@pytest.fixture
def spread(cast: Cast) -> dict[str, Ticket]:
    """The word "zebrafish" in Acme (two requesters) and in Globex, and "okapi" in a private
    note of Acme only."""
    tickets = {
        "acme-user": make_ticket(cast, cast.acme_user, "zebrafish acme user"),
        "acme-user2": make_ticket(cast, cast.acme_user2, "zebrafish acme user2"),
        "globex-user": make_ticket(cast, cast.globex_user, "zebrafish globex user"),
    }
    note(cast, tickets["acme-user"], cast.bob, "the okapi firmware is at fault", public=False)
    return tickets


ACME_ALL = {("acme", "zebrafish acme user"), ("acme", "zebrafish acme user2")}
GLOBEX_ALL = {("globex", "zebrafish globex user")}


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("alice", ACME_ALL | GLOBEX_ALL),  # provider admin: every customer
        ("bob", ACME_ALL),  # agent of Acme only
        ("charlie", GLOBEX_ALL),  # occasional agent of Globex only
        ("acme_it", ACME_ALL),  # Acme's own agent
        ("acme_admin", ACME_ALL),  # Acme's admin: the company's tickets
        ("acme_user", {("acme", "zebrafish acme user")}),  # a user: their own
        ("acme_user2", {("acme", "zebrafish acme user2")}),
        ("globex_admin", GLOBEX_ALL),
        ("globex_user", GLOBEX_ALL),
    ],
)
@pytest.mark.parametrize("walk", ["each customer", "all at once"])
def test_each_caller_finds_only_what_they_may_open(
    cast: Cast,
    spread: dict[str, Ticket],
    who: str,
    sees: set[tuple[str, str]],
    walk: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if walk == "all at once":  # the statement of readers of many customers (the "all" agent's)
        monkeypatch.setattr("tickets.index.search.LATERAL_MAX", 0)
    assert found(getattr(cast, who), "zebrafish") == sees
    assert found(getattr(cast, who), "okapi") <= sees  # the private note, for agents only


@pytest.mark.parametrize("who", ["acme_user", "acme_admin", "globex_user", "globex_admin"])
def test_private_note_words_never_match_for_customer_users(
    cast: Cast, spread: dict[str, Ticket], who: str
) -> None:
    response = api_for(getattr(cast, who)).get(SEARCH, {"q": "okapi"})
    assert response.status_code == 200
    assert response.json() == {"next": None, "results": []}  # no hit, no count, no next
    # nor as a filter of their list (the same ticket holds the word in a private note)
    slug = getattr(cast, who).customer.slug
    listed = api_for(getattr(cast, who)).get(f"/api/v1/customers/{slug}/tickets/", {"q": "okapi"})
    assert listed.status_code == 200 and listed.json()["count"] == 0


@pytest.mark.parametrize("who", ["alice", "bob", "acme_it"])
def test_private_note_words_match_for_agents(cast: Cast, spread: dict[str, Ticket], who: str) -> None:
    hits = api_for(getattr(cast, who)).get(SEARCH, {"q": "okapi"}).json()["results"]
    assert [hit["subject"] for hit in hits] == ["zebrafish acme user"]
    assert "<mark>okapi</mark>" in hits[0]["snippet"]
    assert found(cast.charlie, "okapi") == set()  # an agent of Globex only


def test_a_hit_carries_the_contract_fields(cast: Cast) -> None:
    ticket = make_ticket(
        cast, cast.acme_user, "Printer jammed", priority="P2", description="Tray 2 & 3 <4 jammed"
    )
    hit = api_for(cast.bob).get(SEARCH, {"q": "tray"}).json()["results"][0]
    assert hit["customer"] == "acme" and hit["ticket"] == ticket.pk
    assert hit["reference"] == f"ACME-{ticket.number}" and hit["subject"] == "Printer jammed"
    assert (hit["status"], hit["priority"]) == ("open", "P2") and 0 < hit["rank"] < 1
    assert hit["snippet"] == "<mark>Tray</mark> 2 &amp; 3 &lt;4 jammed"  # the text escaped, our marks only


def test_a_reference_ranks_its_ticket_first(cast: Cast) -> None:
    target = make_ticket(cast, cast.acme_user, "the one we want")
    for _ in range(2):  # tickets whose text holds the number rank below it
        make_ticket(cast, cast.acme_user, f"mentions {target.number} and ACME-{target.number}")
    for query in (f"ACME-{target.number}", f"acme-{target.number}", f" Acme-{target.number} "):
        hits = api_for(cast.bob).get(SEARCH, {"q": query}).json()["results"]
        assert (hits[0]["ticket"], hits[0]["rank"]) == (target.pk, 2.0), query
    # a bare number names a ticket only within one customer
    bare = api_for(cast.alice).get(SEARCH, {"q": str(target.number), "customer": "acme"}).json()
    assert bare["results"][0]["ticket"] == target.pk
    # nobody reaches a ticket they may not open through its reference
    assert found(cast.charlie, f"ACME-{target.number}") == set()
    assert found(cast.acme_user2, f"ACME-{target.number}") == set()
    assert found(cast.globex_admin, f"ACME-{target.number}") == set()


def test_accents_and_prefixes_match(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "Réseau du bureau en panne")
    make_ticket(cast, cast.acme_user, "Reseau printer offline")
    assert found(cast.bob, "reseau") == {
        ("acme", "Réseau du bureau en panne"),
        ("acme", "Reseau printer offline"),
    }
    assert found(cast.bob, "RÉSEAU") == found(cast.bob, "reseau")
    assert found(cast.bob, "print") == {("acme", "Reseau printer offline")}
    assert found(cast.bob, "rés pri") == {("acme", "Reseau printer offline")}  # every word, each a prefix


def test_a_reply_is_findable_at_once(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "quiet ticket")
    client = api_for(cast.acme_user)
    posted = client.post(
        f"/api/v1/customers/acme/tickets/{ticket.pk}/comments/", {"body": "The quokka cable"}, format="json"
    )
    assert posted.status_code == 201
    assert found(cast.acme_user, "quokka") == {("acme", "quiet ticket")}
    assert found(cast.bob, "quok") == {("acme", "quiet ticket")}


def test_q_filters_the_queue_and_the_customer_list(cast: Cast, spread: dict[str, Ticket]) -> None:
    make_ticket(cast, cast.acme_user, "something else")
    queue = api_for(cast.alice).get("/api/v1/tickets/", {"q": "zebra"}).json()["results"]
    assert {(item["customer"], item["subject"]) for item in queue} == ACME_ALL | GLOBEX_ALL
    by_note = api_for(cast.bob).get("/api/v1/tickets/", {"q": "okapi"}).json()["results"]
    assert [item["subject"] for item in by_note] == ["zebrafish acme user"]
    number = spread["acme-user2"].number
    by_reference = api_for(cast.bob).get("/api/v1/tickets/", {"q": f"acme-{number}"}).json()["results"]
    assert [item["subject"] for item in by_reference] == ["zebrafish acme user2"]
    mine = api_for(cast.acme_user).get("/api/v1/customers/acme/tickets/", {"q": "zebra"}).json()
    assert [row["subject"] for row in mine["results"]] == ["zebrafish acme user"]
    bare = api_for(cast.bob).get("/api/v1/customers/acme/tickets/", {"q": str(number)}).json()
    assert [row["subject"] for row in bare["results"]] == ["zebrafish acme user2"]


def test_filters_and_paging(cast: Cast) -> None:
    for index in range(5):
        make_ticket(cast, cast.acme_user, f"walrus {index}", priority="P1" if index % 2 else "P3")
    make_ticket(cast, cast.globex_user, "walrus globex")
    client = api_for(cast.alice)
    p1 = client.get(SEARCH, {"q": "walrus", "priority": "P1", "customer": "acme"}).json()["results"]
    assert {hit["subject"] for hit in p1} == {"walrus 1", "walrus 3"}
    seen: list[str] = []
    url: str | None = f"{SEARCH}?q=walrus&page_size=2"
    while url:
        body = client.get(url).json()
        seen += [hit["subject"] for hit in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted([f"walrus {i}" for i in range(5)] + ["walrus globex"])
    assert client.get(SEARCH, {"q": "walrus", "status": "closed"}).json()["results"] == []


def bad(user: User, params: dict[str, Any]) -> dict[str, Any]:
    response = api_for(user).get(SEARCH, params)
    assert response.status_code == 400, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] and body["detail"]
    fields: dict[str, Any] = body["fields"]
    return fields


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),  # an empty parameter is one not given
        ({"q": "   "}, "q"),
        ({"q": "\ufeff \t"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "printer\x00"}, None),  # refused for every request (InputGuardMiddleware)
        ({"q": "printer", "page_size": "٣"}, "page_size"),
        ({"q": "printer", "page_size": "²"}, "page_size"),
        ({"q": "printer", "assignee": "٣"}, "assignee"),
        ({"q": "printer", "status": "gone"}, "status"),
        ({"q": "printer", "cursor": "MTA:tampered:sig"}, "cursor"),
        ({"q": "printer", "cursor": "x" * 600}, "cursor"),
    ],
)
def test_bad_input_is_refused_naming_the_field(cast: Cast, params: dict[str, Any], field: str | None) -> None:
    response = api_for(cast.bob).get(SEARCH, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] and body["detail"]
    if field is not None:
        assert field in body["fields"], body


def test_a_query_without_words_finds_nothing(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "?!-+")
    assert api_for(cast.bob).get(SEARCH, {"q": "?!-+"}).json() == {"next": None, "results": []}


def test_a_cursor_of_another_offset_is_refused(cast: Cast) -> None:
    from django.core import signing

    forged = signing.dumps(10**9, salt="another.salt")
    assert "cursor" in bad(cast.bob, {"q": "printer", "cursor": forged})


def test_q_on_lists_refuses_bad_input(cast: Cast) -> None:
    for url in ("/api/v1/tickets/", "/api/v1/customers/acme/tickets/"):
        response = api_for(cast.bob).get(url, {"q": "y" * 201})
        assert response.status_code == 400 and "q" in response.json()["fields"]


def test_highlight_escapes_everything_but_our_marks() -> None:
    assert str(highlighted("<script>\ue000x\ue001</script>\ue000")) == (
        "&lt;script&gt;<mark>x</mark>&lt;/script&gt;<mark></mark>"
    )


def test_rebuild_compares_and_repairs_the_search_rows(cast: Cast) -> None:
    kept = make_ticket(cast, cast.acme_user, "kept ticket", description="first words")
    note(cast, kept, cast.bob, "a note", public=False)
    note(cast, kept, cast.acme_user, "a reply", public=True)
    lost = make_ticket(cast, cast.acme_user, "lost ticket")
    call_command("rebuild_ticket_index", "--check", "--customer", "acme", stdout=(clean := StringIO()))
    assert "0 with drift" in clean.getvalue()  # what the workflows wrote is what the rebuild derives
    TicketSearchEntry.objects.filter(customer=cast.acme, ticket_id=lost.pk).delete()
    TicketSearchEntry.objects.filter(customer=cast.acme, ticket_id=kept.pk).update(public_text="wrong")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("rebuild_ticket_index", "--check", "--customer", "acme", stdout=out)
    assert "acme: search rows: 1 missing, 1 stale, 0 orphaned" in out.getvalue()
    call_command("rebuild_ticket_index", "--customer", "acme", stdout=StringIO())
    row = TicketSearchEntry.objects.get(customer=cast.acme, ticket_id=kept.pk)
    assert (row.public_text, row.private_text) == ("first words\n\na reply", "a note")
    assert found(cast.bob, "lost") == {("acme", "lost ticket")}
