"""CMDB console and portal pages, through Django's test client on the real hosts."""

from __future__ import annotations

from cmdb.models import ConfigurationItem
from tenants.schema import customer_schema
from tests.cmdb.conftest import chain, make_ci, policy
from tests.conftest import Cast
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket

BASE = "/customers/acme/cis/"


def test_the_ci_list_filters_in_place_and_shows_counts_and_effective_sla(cast: Cast) -> None:
    gold = policy("Gold")
    rack = make_ci(cast.acme, "rack-3", "other", sla_policy=gold)
    make_ci(cast.acme, "db-01", parent=rack)
    make_ci(cast.acme, "pc-7", "workstation", status="retired")
    page = console(cast.bob).get(BASE)
    html = page.content.decode()
    assert page.status_code == 200
    assert "3 CIs" in html and "1 active" not in html and "2 active, 0 in maintenance, 1 retired" in html
    assert 'data-ci="db-01"' in html and "(from rack-3)" in html
    partial = console(cast.bob).get(f"{BASE}?type=workstation", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and body.startswith('<div id="ci-table"')
    assert 'data-ci="pc-7"' in body and 'data-ci="db-01"' not in body
    bad = console(cast.bob).get(f"{BASE}?type=toaster")
    assert bad.status_code == 400 and "toaster" in bad.content.decode()


def test_the_ci_page_explains_the_sla_and_lists_relations_and_tickets(cast: Cast) -> None:
    gold = policy("Gold")
    rack, db = chain(cast, ["rack-3", "db-01"], sla_policy=gold)
    app = make_ci(cast.acme, "crm", "application")
    from cmdb import services

    with customer_schema(cast.acme):
        services.ci_relate(customer=cast.acme, source=app, target=db, kind="runs_on", by=None)
    open_ticket = make_ticket(cast, cast.bob, "DB slow", ci=db)
    html = console(cast.bob).get(f"{BASE}{db.pk}/").content.decode()
    assert "db-01 inherits &#x27;Gold&#x27; from parent rack-3" in html
    assert f'href="{BASE}{rack.pk}/">rack-3</a>' in html  # the location chain
    assert "crm</a> <em>runs on</em> db-01" in html and "<svg" in html
    assert "DB slow" in html and f"/customers/acme/tickets/{open_ticket.pk}/" in html


def test_creating_and_editing_through_the_forms(cast: Cast) -> None:
    client = console(cast.bob)
    make_ci(cast.acme, "rack-1", "other")
    created = client.post(
        f"{BASE}new/",
        {
            "name": "web-01",
            "type": "server",
            "status": "active",
            "parent": "rack-1",
            "attributes": '{"os": "Debian"}',
        },
    )
    assert created.status_code == 302
    with customer_schema(cast.acme):
        web = ConfigurationItem.objects.select_related("parent").get(name="web-01")
    assert web.parent is not None and web.parent.name == "rack-1" and web.attributes == {"os": "Debian"}
    assert created["Location"] == f"{BASE}{web.pk}/"
    # A loop is refused on the form, under the parent field, and nothing changes.
    make_ci(cast.acme, "vm-1", parent=web)
    loop = client.post(
        f"/customers/acme/cis/{web.parent.pk}/edit/",
        {"name": "rack-1", "type": "other", "status": "active", "parent": "vm-1", "attributes": "{}"},
    )
    assert loop.status_code == 400
    assert "vm-1 cannot be the parent of rack-1" in loop.content.decode()
    duplicate = client.post(f"{BASE}new/", {"name": "WEB-01", "type": "server", "status": "active"})
    assert duplicate.status_code == 400 and "already has a CI named" in duplicate.content.decode()
    bad_json = client.post(
        f"{BASE}new/", {"name": "x", "type": "server", "status": "active", "attributes": "[1]"}
    )
    assert bad_json.status_code == 400 and "Give a JSON object" in bad_json.content.decode()
    deep = "[" * 10_000 + "]" * 10_000  # refused before parsing (core.fields.JSONField): no 500
    too_deep = client.post(
        f"{BASE}new/", {"name": "x", "type": "server", "status": "active", "attributes": deep}
    )
    assert too_deep.status_code == 400 and "nested at most" in too_deep.content.decode()
    renamed = client.post(
        f"{BASE}{web.pk}/edit/",
        {"name": "web-01a", "type": "server", "status": "retired", "parent": "rack-1", "attributes": "{}"},
    )
    assert renamed.status_code == 302
    with customer_schema(cast.acme):
        web.refresh_from_db()
    assert web.name == "web-01a" and web.is_retired and web.retired_at is not None


def test_relations_and_delete_from_the_ci_page(cast: Cast) -> None:
    client = console(cast.bob)
    vm, san = make_ci(cast.acme, "vm-07"), make_ci(cast.acme, "san-1", "other")
    added = client.post(
        f"{BASE}{vm.pk}/relations/", {"kind": "depends_on", "direction": "out", "target": "san-1"}
    )
    assert added.status_code == 302
    page = client.get(f"{BASE}{vm.pk}/").content.decode()
    assert "vm-07 <em>depends on</em>" in page
    refused = client.post(
        f"{BASE}{vm.pk}/relations/", {"kind": "depends_on", "direction": "out", "target": "nope"}
    )
    assert refused.status_code == 302
    assert "No CI &#x27;nope&#x27; in this customer" in client.get(refused["Location"]).content.decode()
    make_ticket(cast, cast.bob, "SAN full", ci=san)
    delete = client.post(f"{BASE}{san.pk}/delete/", follow=True)
    assert "san-1 is linked to 1 ticket; retire it instead" in delete.content.decode()
    gone = client.post(f"{BASE}{vm.pk}/delete/")
    assert gone.status_code == 302 and gone["Location"] == BASE


def test_tickets_link_a_ci_from_the_console_and_the_portal(cast: Cast) -> None:
    make_ci(cast.acme, "laptop-user", "workstation", owner=cast.profile(cast.acme_user))
    make_ci(cast.acme, "srv-1")
    made = console(cast.bob).post(
        "/customers/acme/tickets/new/", {"subject": "Server down", "priority": "P2", "ci": "srv-1"}
    )
    assert made.status_code == 302
    from tickets.models import Ticket

    with customer_schema(cast.acme):
        ticket = Ticket.objects.select_related("ci").get(subject="Server down")
    assert ticket.ci is not None and ticket.ci.name == "srv-1"
    panel = console(cast.bob).post(
        f"/customers/acme/tickets/{ticket.pk}/change/", {"ci": "nope"}, HTTP_HX_REQUEST="true"
    )
    assert panel.status_code == 400 and "No CI" in panel.content.decode()
    cleared = console(cast.bob).post(f"/customers/acme/tickets/{ticket.pk}/change/", {"ci": ""})
    assert cleared.status_code == 302
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket.pk).ci_id is None
    user = portal(cast.acme_user)
    form = user.get("/tickets/new/?ci=laptop-user").content.decode()
    assert 'value="laptop-user"' in form
    submitted = user.post(
        "/tickets/new/", {"subject": "Screen flickers", "priority": "P3", "ci": "laptop-user"}
    )
    assert submitted.status_code == 302
    assert "about <a" in user.get(submitted["Location"]).content.decode()
    refused = user.post("/tickets/new/", {"subject": "x", "priority": "P3", "ci": "srv-1"})
    assert refused.status_code == 400 and "No CI &#x27;srv-1&#x27;" in refused.content.decode()


def test_the_portal_shows_admins_every_ci_and_users_their_own_read_only(cast: Cast) -> None:
    gold = policy("Gold")
    rack = make_ci(cast.acme, "rack-3", "other", sla_policy=gold)
    laptop = make_ci(cast.acme, "laptop-user", "workstation", owner=cast.profile(cast.acme_user), parent=rack)
    make_ci(cast.acme, "laptop-user2", "workstation", owner=cast.profile(cast.acme_user2))
    admin_list = portal(cast.acme_admin).get("/cis/").content.decode()
    assert all(name in admin_list for name in ("rack-3", "laptop-user", "laptop-user2"))
    user = portal(cast.acme_user)
    mine = user.get("/cis/").content.decode()
    assert "laptop-user<" in mine and "laptop-user2" not in mine and "rack-3" not in mine
    page = user.get(f"/cis/{laptop.pk}/").content.decode()
    assert "laptop-user inherits &#x27;Gold&#x27; from parent a CI you cannot see" in page
    assert "rack-3" not in page
    assert "/edit/" not in page and "Delete" not in page
    assert user.get(f"/cis/{rack.pk}/").status_code == 404
    assert user.post(f"/cis/{laptop.pk}/", {"name": "x"}).status_code in (404, 405)


def test_the_portal_named_ancestor_cis_a_user_cannot_open(cast: Cast) -> None:
    """Finding 10 (portal): the location chain and the effective SLA of a user's own CI name
    only the CIs they can open; the others are "a CI you cannot see", without a link."""
    gold = policy("Gold")
    room, rack = chain(cast, ["room-1", "rack-3"], sla_policy=gold)
    laptop = make_ci(cast.acme, "laptop-user", "workstation", owner=cast.profile(cast.acme_user), parent=rack)
    phone = make_ci(cast.acme, "phone-user", "other", owner=cast.profile(cast.acme_user), parent=laptop)
    page = portal(cast.acme_user).get(f"/cis/{phone.pk}/").content.decode()
    assert "room-1" not in page and "rack-3" not in page
    assert page.count("data-unseen-ci>a CI you cannot see<") == 2
    assert f'href="/cis/{laptop.pk}/">laptop-user</a>' in page  # their own, named and linked
    assert f"/cis/{rack.pk}/" not in page and f"/cis/{room.pk}/" not in page
    assert "inherits &#x27;Gold&#x27; from ancestor a CI you cannot see (3 levels up)" in page
    admin = portal(cast.acme_admin).get(f"/cis/{phone.pk}/").content.decode()
    assert f'href="/cis/{rack.pk}/">rack-3</a>' in admin and "from ancestor room-1" in admin
