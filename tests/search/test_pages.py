"""The console's and the portal's search pages, and the header's search box."""

from __future__ import annotations

from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket
from tickets import workflows


def test_console_search_shows_ranked_hits_with_escaped_snippets(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "Narwhal printer", description="The narwhal tray & x<y <script>")
    make_ticket(cast, cast.globex_user, "Narwhal globex")
    response = console(cast.bob).get("/search/", {"q": "narwhal"})
    page = response.content.decode()
    assert response.status_code == 200 and "Narwhal printer" in page and "Narwhal globex" not in page
    # ts_headline leaves markup out, what remains is escaped (tests/search/test_api.py), and
    # the only tags are our marks
    assert "<mark>narwhal</mark> tray" in page and "<script>" not in page
    assert 'data-shortcut="search"' in page  # the header's box, on every console page


def test_console_filters_and_bad_input(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "Lemur P1", priority="P1")
    make_ticket(cast, cast.acme_user, "Lemur P4", priority="P4")
    page = console(cast.alice).get("/search/", {"q": "lemur", "priority": "P1"}).content.decode()
    assert "Lemur P1" in page and "Lemur P4" not in page
    bad = console(cast.alice).get("/search/", {"q": "x" * 201})
    assert bad.status_code == 400 and "q: At most 200 characters" in bad.content.decode()
    assert console(cast.alice).get("/search/", {"q": "lemur", "page_size": "٣"}).status_code == 400
    assert console(cast.alice).get("/search/").status_code == 200  # the empty form


def test_a_reference_goes_straight_to_the_ticket(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Jump here")
    response = console(cast.bob).get("/search/", {"q": f"acme-{ticket.number}"})
    assert response.status_code == 302
    assert response["Location"] == f"/customers/acme/tickets/{ticket.pk}/"
    # Charlie works Globex only: nothing to jump to
    assert console(cast.charlie).get("/search/", {"q": f"ACME-{ticket.number}"}).status_code == 200
    for query in (str(ticket.number), f"ACME-{ticket.number}"):
        mine = portal(cast.acme_user).get("/search/", {"q": query})
        assert mine.status_code == 302 and mine["Location"] == f"/tickets/{ticket.pk}/"
    # another user of Acme may not open it: no jump, no hit
    other = portal(cast.acme_user2).get("/search/", {"q": str(ticket.number)})
    assert other.status_code == 200 and "Jump here" not in other.content.decode()


def test_portal_search_shows_what_the_person_may_see_and_never_notes(cast: Cast) -> None:
    own = make_ticket(cast, cast.acme_user, "Capybara mine")
    make_ticket(cast, cast.acme_user2, "Capybara colleague")
    make_ticket(cast, cast.globex_user, "Capybara globex")
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=own, by=cast.bob, body="secret tapir", public=False)
    page = portal(cast.acme_user).get("/search/", {"q": "capybara"}).content.decode()
    assert "Capybara mine" in page and "Capybara colleague" not in page and "Capybara globex" not in page
    assert 'data-shortcut="search"' in page
    company = portal(cast.acme_admin).get("/search/", {"q": "capybara"}).content.decode()
    assert "Capybara mine" in company and "Capybara colleague" in company and "Capybara globex" not in company
    for who in (cast.acme_user, cast.acme_admin):
        assert "Capybara mine" not in portal(who).get("/search/", {"q": "tapir"}).content.decode()
    assert "Capybara mine" in console(cast.bob).get("/search/", {"q": "tapir"}).content.decode()
