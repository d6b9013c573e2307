"""Customers in the console: the list (search, state, paging, the figures of each customer in a
bounded number of queries), the edit page (portal and mail domains), archiving (confirmed,
reversible). Provider admins change customers; member agents read; anyone else gets 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.models import Customer, Domain, EmailDomain
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import Cast
from tests.support.clients import console, portal
from tickets import workflows

LIST = "/customers/"
WEEK = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def _ticket(cast: Cast, subject: str) -> None:
    with customer_schema(cast.acme):
        workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject=subject, description="x")
        )


def _edit_post(customer: Customer, **kw: str) -> dict[str, str]:
    data = {
        "name": customer.name,
        "timezone": customer.timezone,
        "default_sla": "",
        "business_hours": "",
        "portal_domains": "",
        "email_domains": "",
    }
    return data | kw


def test_the_list_shows_each_customers_sla_hours_and_figures(cast: Cast, actor: None) -> None:
    hours = BusinessHours.objects.create(name="Berlin office", timezone="Europe/Berlin", schedule=WEEK)
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS, business_hours=hours)
    Customer.objects.filter(pk=cast.acme.pk).update(default_sla=gold, business_hours=hours)
    _ticket(cast, "Printer")
    html = console(cast.alice).get(LIST).content.decode()
    row = html[html.index('data-customer="acme"') :]
    row = row[: row.index("</tr>")]
    assert "Gold" in row and "Berlin office" in row
    assert "data-open-tickets>1<" in row
    assert "data-users>4<" in row  # admin, user, user2, it
    assert "data-cis>0<" in row


def test_the_list_costs_the_same_queries_for_many_customers(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    client.get(LIST)
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    for number in range(4):
        customer_provision(name=f"Many {number}", slug=f"many-{number}")
    with CaptureQueriesContext(connection) as many:
        html = client.get(LIST).content.decode()
    assert "Many 3" in html
    assert len(many) == len(few)


def test_search_state_and_paging(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    assert "Globex" not in client.get(LIST, {"search": "acm"}).content.decode()
    client.post(f"/customers/{cast.globex.slug}/archive/")
    assert 'data-customer="globex"' not in client.get(LIST).content.decode()
    archived = client.get(LIST, {"state": "archived"}).content.decode()
    assert 'data-customer="globex"' in archived and 'data-customer="acme"' not in archived
    assert client.get(LIST, {"state": "gone"}).status_code == 400
    assert client.get(LIST, {"page": "²"}).status_code == 200  # a bad page number is the first page


def test_agents_see_only_their_customers_and_no_change_buttons(cast: Cast) -> None:
    html = console(cast.bob).get(LIST).content.decode()
    assert 'data-customer="acme"' in html and 'data-customer="globex"' not in html
    assert "New customer" not in html


def test_the_customer_page_shows_its_default_sla_and_business_hours(cast: Cast, actor: None) -> None:
    hours = BusinessHours.objects.create(
        name="Berlin office", timezone="Europe/Berlin", schedule={"mon": [["09:00", "17:00"]]}
    )
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS, business_hours=hours)
    Customer.objects.filter(pk=cast.acme.pk).update(default_sla=gold, business_hours=hours)
    html = console(cast.bob).get("/customers/acme/").content.decode()
    assert "data-default-sla>Gold<" in html
    assert "Berlin office · Mon 09:00\u201317:00 (Europe/Berlin)" in html


def test_admin_edits_name_domains_and_email_domains(cast: Cast, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "support.acme.com"]
    client = console(cast.alice)
    response = client.post(
        "/customers/acme/edit/",
        _edit_post(
            cast.acme,
            name="Acme Corp",
            portal_domains="support.acme.com\nhelp.acme.com",
            email_domains="Acme.com",
        ),
    )
    assert response.status_code == 302
    cast.acme.refresh_from_db()
    assert cast.acme.name == "Acme Corp"
    assert set(
        Domain.objects.filter(tenant=cast.acme, is_primary=False).values_list("domain", flat=True)
    ) == {
        "support.acme.com",
        "help.acme.com",
    }
    assert list(EmailDomain.objects.filter(customer=cast.acme).values_list("domain", flat=True)) == [
        "acme.com"
    ]
    # The extra domain is a portal of Acme now.
    assert portal(cast.acme_user, "acme").get("/", HTTP_HOST="support.acme.com").status_code == 200
    # Removing one keeps the primary domain.
    client.post("/customers/acme/edit/", _edit_post(cast.acme, portal_domains="help.acme.com"))
    assert set(Domain.objects.filter(tenant=cast.acme).values_list("domain", flat=True)) == {
        "acme.localhost",
        "help.acme.com",
    }


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        ("globex.localhost", "names under localhost are the portals"),
        ("not a domain!", "is not a host name"),
        ("taken.example.com", "already the portal of another customer"),
    ],
)
def test_bad_portal_domains_are_refused_and_nothing_changes(
    cast: Cast, actor: None, domains: str, message: str
) -> None:
    Domain.objects.create(domain="taken.example.com", tenant=cast.globex, is_primary=False)
    response = console(cast.alice).post(
        "/customers/acme/edit/", _edit_post(cast.acme, name="Renamed", portal_domains=domains)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    cast.acme.refresh_from_db()
    assert cast.acme.name == "Acme"


def test_a_mail_domain_of_another_customer_is_refused(cast: Cast, actor: None) -> None:
    EmailDomain.objects.create(customer=cast.globex, domain="globex.com")
    response = console(cast.alice).post(
        "/customers/acme/edit/", _edit_post(cast.acme, email_domains="globex.com")
    )
    assert (
        response.status_code == 400
        and "already a mail domain of another customer" in response.content.decode()
    )


def test_archiving_is_confirmed_reversible_and_keeps_everything(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    _ticket(cast, "Kept")
    confirm = client.get("/customers/acme/archive/")
    assert confirm.status_code == 200 and "Nothing is deleted" in confirm.content.decode()
    cast.acme.refresh_from_db()
    assert cast.acme.is_active  # showing the question changes nothing
    assert client.post("/customers/acme/archive/").status_code == 302
    cast.acme.refresh_from_db()
    assert not cast.acme.is_active and cast.acme.archived_at is not None
    assert portal(cast.acme_user).get("/").status_code == 404  # the portal is closed
    assert console(cast.bob).get("/customers/acme/").status_code == 404
    assert client.post("/customers/acme/restore/").status_code == 302
    cast.acme.refresh_from_db()
    assert cast.acme.is_active
    assert "Kept" in client.get("/customers/acme/").content.decode()


@pytest.mark.parametrize("path", ["/customers/acme/edit/", "/customers/acme/archive/"])
def test_who_may_change_a_customer(cast: Cast, path: str) -> None:
    assert console(cast.bob).get(path).status_code == 403  # a member agent: told it is for admins
    assert console(cast.bob).post(path).status_code == 403
    assert console(cast.charlie).get(path).status_code == 404  # not a member
    assert console(cast.acme_it).get(path).status_code == 404  # the customer's own agent
    assert console(cast.acme_it).get(LIST).status_code == 200  # a console user: sees only Acme
