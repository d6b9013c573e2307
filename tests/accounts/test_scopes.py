"""Occasional agents' scopes (tickets read/write, CMDB none/read/write), enforced alike by the
API (``CustomerScopedMixin``) and the console (``customer_page``): 403 naming the scope inside a
customer the agent works, nothing written; outsiders still 404; full-time agents unaffected.

Charlie is the cast's occasional agent, a member of Globex only."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import OCCASIONAL_DEFAULTS, User
from cmdb.models import ConfigurationItem
from people.models import CustomerUser
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.access import require_scope, scope_level
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.cmdb.conftest import make_ci
from tests.conftest import Cast, api_for
from tests.support.clients import console
from tickets import workflows
from tickets.models import Comment, Ticket

pytestmark = pytest.mark.usefixtures("actor")  # the tickets and CIs set up here are the job "tests"

API = "/api/v1/customers/globex"
PAGES = "/customers/globex"
TICKETS_READ_ONLY = {"code": "permission_denied", "detail": "Your access to tickets is read-only."}
CMDB_READ_ONLY = {"code": "permission_denied", "detail": "Your access to the CMDB is read-only."}
NO_CMDB = {"code": "permission_denied", "detail": "Your access does not include the CMDB."}


def restrict(user: User, **levels: str) -> User:
    """Give ``user`` these scope levels (the rest at the defaults), as an admin would."""
    User.objects.filter(pk=user.pk).update(permissions={**OCCASIONAL_DEFAULTS, **levels})
    user.refresh_from_db()
    return user


def open_ticket(cast: Cast, subject: str = "Mail is down") -> Ticket:
    with customer_schema(cast.globex):
        return workflows.ticket_create(
            customer=cast.globex, by=cast.globex_user, new=workflows.NewTicket(subject=subject)
        )


def counts(customer: Customer) -> dict[str, int]:
    """What a refused write must leave untouched."""
    with customer_schema(customer):
        return {
            "tickets": Ticket.objects.count(),
            "comments": Comment.objects.count(),
            "cis": ConfigurationItem.objects.count(),
            "users": CustomerUser.objects.count(),
        }


def fresh(customer: Customer, model: Any, pk: int) -> Any:
    with customer_schema(customer):
        return model.objects.get(pk=pk)


# --- the rule itself ------------------------------------------------------------------------------


def test_levels_limit_occasional_agents_only(cast: Cast) -> None:
    charlie = restrict(cast.charlie, tickets="read", cmdb="none")
    assert scope_level(charlie, "tickets") == "read" and scope_level(charlie, "cmdb") == "none"
    assert scope_level(charlie, "reports") == "none"  # the default
    # Full-time agents and admins have every scope, whatever their permissions field says.
    bob = restrict(cast.bob, tickets="read", cmdb="none")
    assert [scope_level(bob, scope) for scope in ("tickets", "cmdb", "reports")] == ["write", "write", "read"]
    require_scope(bob, "cmdb", write=True)
    require_scope(cast.alice, "reports", write=False)
    # An unknown level (hand-edited data) is the lowest one, never more.
    User.objects.filter(pk=charlie.pk).update(permissions={"tickets": "admin", "cmdb": "everything"})
    charlie.refresh_from_db()
    assert scope_level(charlie, "tickets") == "read" and scope_level(charlie, "cmdb") == "none"


def test_reports_scope_guards_future_report_views(cast: Cast) -> None:
    with pytest.raises(PermissionDenied) as refused:
        require_scope(cast.charlie, "reports", write=False)
    assert str(refused.value) == "Your access does not include reports."
    require_scope(restrict(cast.charlie, reports="read"), "reports", write=False)


# --- API ------------------------------------------------------------------------------------------


def test_api_tickets_read_only_reads_but_never_writes(cast: Cast) -> None:
    ticket = open_ticket(cast)
    client = api_for(restrict(cast.charlie, tickets="read"))
    assert client.get(f"{API}/tickets/").status_code == 200
    assert client.get(f"{API}/tickets/{ticket.pk}/").json()["subject"] == "Mail is down"
    assert client.get(f"{API}/tickets/{ticket.pk}/comments/").status_code == 200
    assert client.get(f"{API}/tickets/{ticket.pk}/sla/").status_code == 200
    queue = client.get("/api/v1/tickets/")  # the unified queue is a read
    assert queue.status_code == 200 and [t["id"] for t in queue.json()["results"]] == [ticket.pk]
    before = counts(cast.globex)
    writes = [
        client.post(
            f"{API}/tickets/", {"subject": "New", "requester": cast.globex_user.email}, format="json"
        ),
        client.patch(f"{API}/tickets/{ticket.pk}/", {"priority": "P1"}, format="json"),
        client.post(f"{API}/tickets/{ticket.pk}/comments/", {"body": "On it"}, format="json"),
        client.post(f"{API}/users/", {"email": "new@globex.test", "name": "New"}, format="json"),
    ]
    for response in writes:
        assert response.status_code == 403 and response.json() == TICKETS_READ_ONLY
    assert counts(cast.globex) == before
    assert fresh(cast.globex, Ticket, ticket.pk).priority == "P3"


def test_api_without_the_cmdb_is_403_naming_it(cast: Cast) -> None:
    ci = make_ci(cast.globex, "mail-01")
    client = api_for(restrict(cast.charlie, cmdb="none"))
    for path in (f"{API}/cis/", f"{API}/cis/{ci.pk}/", f"{API}/cis/counts/", f"{API}/cis/{ci.pk}/relations/"):
        response = client.get(path)
        assert response.status_code == 403 and response.json() == NO_CMDB, path
    assert client.get(f"{API}/tickets/").status_code == 200  # tickets stay open to them


def test_without_the_cmdb_an_occasional_agent_saw_ci_names_through_tickets(cast: Cast) -> None:
    """Finding 8: with CMDB scope ``none``, tickets showed their CI's name (``ci_name``, the
    history, the SLA's reason), and ``?ci=`` told which names exist. Now tickets show no CI to
    them, and the ``ci`` filter and the ``ci`` field of writes are 403 naming the scope, whether
    the name exists or not."""
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS)
    ci = make_ci(cast.globex, "mail-01", sla_policy=gold)
    ticket = open_ticket(cast)
    with customer_schema(cast.globex):
        workflows.ticket_update(
            customer=cast.globex, ticket=ticket, by=cast.alice, changes=workflows.TicketChanges(ci=ci)
        )
    client = api_for(restrict(cast.charlie, cmdb="none"))
    url = f"{API}/tickets/{ticket.pk}/"
    shown = client.get(url).json()
    listed = client.get(f"{API}/tickets/").json()["results"][0]
    for body in (shown, listed):
        assert body["ci"] is None and body["ci_name"] is None
        assert body["sla"]["policy"]["name"] == "Gold" and "mail-01" not in body["sla"]["reason"]
    explained = client.get(f"{url}sla/").json()
    assert "mail-01" not in str(explained) and explained["chain"][2]["text"] == (
        "the ticket's configuration item has policy 'Gold'"
    )
    history = client.get(f"{url}history/").json()["results"]
    assert history and "mail-01" not in str(history) and not any("ci" in e["changes"] for e in history)
    before = counts(cast.globex)
    refused = [
        client.get(f"{API}/tickets/", {"ci": "mail-01"}),
        client.get(f"{API}/tickets/", {"ci": "no-such-ci"}),
        client.get(f"{API}/tickets/", {"ci": str(ci.pk)}),
        client.post(
            f"{API}/tickets/",
            {"subject": "x", "requester": cast.globex_user.email, "ci": "mail-01"},
            format="json",
        ),
        client.post(
            f"{API}/tickets/",
            {"subject": "x", "requester": cast.globex_user.email, "ci": "nope"},
            format="json",
        ),
        client.patch(url, {"ci": "mail-01"}, format="json"),
        client.patch(url, {"ci": "nope"}, format="json"),
        client.patch(url, {"ci": None}, format="json"),
    ]
    for response in refused:
        assert response.status_code == 403 and response.json() == NO_CMDB, response.content
    assert counts(cast.globex) == before and fresh(cast.globex, Ticket, ticket.pk).ci_id == ci.pk
    # With the CMDB in their scope (the default, read), the same agent sees and filters by it.
    reader = api_for(restrict(cast.charlie, cmdb="read"))
    assert reader.get(url).json()["ci_name"] == "mail-01"
    assert [t["id"] for t in reader.get(f"{API}/tickets/", {"ci": "mail-01"}).json()["results"]] == [
        ticket.pk
    ]
    assert "mail-01" in reader.get(f"{url}sla/").json()["chain"][2]["text"]


def test_api_cmdb_read_only_lists_but_cannot_change(cast: Cast) -> None:
    ci = make_ci(cast.globex, "mail-01")
    client = api_for(restrict(cast.charlie, cmdb="read"))
    listed = client.get(f"{API}/cis/")
    assert listed.status_code == 200 and [c["name"] for c in listed.json()["results"]] == ["mail-01"]
    before = counts(cast.globex)
    writes = [
        client.post(f"{API}/cis/", {"name": "web-01", "type": "server"}, format="json"),
        client.patch(f"{API}/cis/{ci.pk}/", {"name": "renamed"}, format="json"),
        client.delete(f"{API}/cis/{ci.pk}/"),
    ]
    for response in writes:
        assert response.status_code == 403 and response.json() == CMDB_READ_ONLY
    assert counts(cast.globex) == before and fresh(cast.globex, ConfigurationItem, ci.pk).name == "mail-01"


def test_api_default_scopes_write_tickets_and_read_the_cmdb(cast: Cast) -> None:
    client = api_for(cast.charlie)  # OCCASIONAL_DEFAULTS
    created = client.post(
        f"{API}/tickets/", {"subject": "Printer", "requester": cast.globex_user.email}, format="json"
    )
    assert created.status_code == 201, created.content
    assert client.post(f"{API}/cis/", {"name": "x", "type": "server"}, format="json").json() == CMDB_READ_ONLY


def test_api_full_time_agents_are_unaffected(cast: Cast) -> None:
    client = api_for(restrict(cast.bob, tickets="read", cmdb="none"))  # ignored: Bob is full-time
    created = client.post(
        "/api/v1/customers/acme/tickets/",
        {"subject": "VPN", "requester": cast.acme_user.email},
        format="json",
    )
    assert created.status_code == 201, created.content
    ci = client.post("/api/v1/customers/acme/cis/", {"name": "vpn-gw", "type": "network"}, format="json")
    assert ci.status_code == 201, ci.content


def test_api_outsiders_still_get_404_first(cast: Cast) -> None:
    client = api_for(restrict(cast.charlie, tickets="read", cmdb="none"))  # not a member of Acme
    assert client.get("/api/v1/customers/acme/tickets/").status_code == 404
    assert client.post("/api/v1/customers/acme/tickets/", {"subject": "x"}, format="json").status_code == 404
    assert client.get("/api/v1/customers/acme/cis/").status_code == 404


# --- console --------------------------------------------------------------------------------------


def test_console_tickets_read_only(cast: Cast) -> None:
    ticket = open_ticket(cast)
    client = console(restrict(cast.charlie, tickets="read"))
    page = client.get(f"{PAGES}/tickets/{ticket.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Mail is down" in html
    assert 'id="read-only-tickets"' in html and 'name="body"' not in html  # no reply form
    assert "Save changes" not in html and 'id="ticket-status"' in html  # facts, not the change form
    customer = client.get(f"{PAGES}/").content.decode()
    assert "Mail is down" in customer and f"{PAGES}/tickets/new/" not in customer
    assert client.get("/").status_code == 200  # the unified queue
    before = counts(cast.globex)
    refused = [
        client.post(f"{PAGES}/tickets/{ticket.pk}/reply/", {"body": "On it", "visibility": "public"}),
        client.post(f"{PAGES}/tickets/{ticket.pk}/change/", {"priority": "P1"}),
        client.post(f"{PAGES}/tickets/new/", {"subject": "New", "requester": "1"}),
        client.get(f"{PAGES}/tickets/new/"),  # the form exists only to write
    ]
    for response in refused:
        assert response.status_code == 403
        assert "Your access to tickets is read-only." in response.content.decode()
    assert counts(cast.globex) == before
    assert fresh(cast.globex, Ticket, ticket.pk).priority == "P3"


def test_console_without_the_cmdb(cast: Cast) -> None:
    ci = make_ci(cast.globex, "mail-01")
    ticket = open_ticket(cast)
    with customer_schema(cast.globex):
        workflows.ticket_update(
            customer=cast.globex, ticket=ticket, by=cast.alice, changes=workflows.TicketChanges(ci=ci)
        )
    client = console(restrict(cast.charlie, cmdb="none"))
    for path in (f"{PAGES}/cis/", f"{PAGES}/cis/{ci.pk}/", f"{PAGES}/cis/new/"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Your access does not include the CMDB." in response.content.decode()
    customer = client.get(f"{PAGES}/").content.decode()
    assert f"{PAGES}/cis/" not in customer  # no link to the CMDB
    ticket_page = client.get(f"{PAGES}/tickets/{ticket.pk}/").content.decode()
    assert "mail-01" not in ticket_page and f"{PAGES}/cis/{ci.pk}/" not in ticket_page  # no CI at all


def test_console_cmdb_read_only(cast: Cast) -> None:
    ci = make_ci(cast.globex, "mail-01")
    client = console(restrict(cast.charlie, cmdb="read"))
    listing = client.get(f"{PAGES}/cis/")
    assert listing.status_code == 200 and 'data-ci="mail-01"' in listing.content.decode()
    assert f"{PAGES}/cis/new/" not in listing.content.decode()
    page = client.get(f"{PAGES}/cis/{ci.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "mail-01" in html
    assert f"{PAGES}/cis/{ci.pk}/edit/" not in html and f"{PAGES}/cis/{ci.pk}/delete/" not in html
    assert "Add relation" not in html
    before = counts(cast.globex)
    refused = [
        client.get(f"{PAGES}/cis/new/"),
        client.post(f"{PAGES}/cis/new/", {"name": "web-01", "type": "server", "status": "active"}),
        client.post(f"{PAGES}/cis/{ci.pk}/edit/", {"name": "renamed", "type": "server", "status": "active"}),
        client.post(f"{PAGES}/cis/{ci.pk}/delete/"),
        client.post(
            f"{PAGES}/cis/{ci.pk}/relations/", {"target": "x", "kind": "runs_on", "direction": "out"}
        ),
    ]
    for response in refused:
        assert response.status_code == 403
        assert "Your access to the CMDB is read-only." in response.content.decode()
    assert counts(cast.globex) == before and fresh(cast.globex, ConfigurationItem, ci.pk).name == "mail-01"


def test_console_full_time_agents_are_unaffected(cast: Cast) -> None:
    ci = make_ci(cast.acme, "vpn-gw", "network")
    client = console(restrict(cast.bob, tickets="read", cmdb="none"))
    page = client.get(f"/customers/acme/cis/{ci.pk}/").content.decode()
    assert "/customers/acme/cis/new/" in page and f"/customers/acme/cis/{ci.pk}/edit/" in page
    created = client.post(
        "/customers/acme/cis/new/", {"name": "web-01", "type": "server", "status": "active"}
    )
    assert created.status_code == 302
    assert "/customers/acme/tickets/new/" in client.get("/customers/acme/").content.decode()


def test_console_outsiders_still_get_404_first(cast: Cast) -> None:
    client = console(restrict(cast.charlie, tickets="read", cmdb="none"))  # not a member of Acme
    assert client.get("/customers/acme/").status_code == 404
    assert client.get("/customers/acme/cis/").status_code == 404
    assert client.post("/customers/acme/tickets/new/", {"subject": "x"}).status_code == 404
