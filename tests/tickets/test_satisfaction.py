"""Satisfaction surveys: the resolved notice's one-click links (signed, 14 days, one ticket of one
customer), one rating per ticket, only the requester rates, asked once, the customer's switch,
and the SLA's verdict stored beside the rating."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEntry
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast, api_for
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket
from tests.tickets.test_notifications import run_events
from tickets import workflows
from tickets.models import Ticket
from tickets.satisfaction.models import Rating, SurveyRequest
from tickets.satisfaction.services import LINK_SALT

LINK = re.compile(r"http://(?P<host>[a-z.]+):8000(?P<path>/rate/[^/\s]+/)")


def set_status(cast: Cast, ticket: Ticket, status: str, by: User | None = None) -> Ticket:
    customer = ticket_customer(cast, ticket)
    with customer_schema(customer):
        ticket = Ticket.objects.get(pk=ticket.pk)
        return workflows.ticket_transition(customer=customer, ticket=ticket, by=by or cast.bob, status=status)


def ticket_customer(cast: Cast, ticket: Ticket) -> Customer:
    return cast.globex if ticket.subject.startswith("globex") else cast.acme


def resolved(cast: Cast, by: User | None = None, subject: str = "VPN down") -> Ticket:
    """A ticket of ``by`` (acme-user), resolved by Bob, its notices sent."""
    ticket = make_ticket(cast, by or cast.acme_user, subject=subject)
    ticket = set_status(cast, ticket, "resolved")
    run_events(ticket_customer(cast, ticket), ticket)
    return ticket


def links_to(email: str) -> dict[str, str]:
    """The rating links of the latest resolved notice to ``email``: score -> path."""
    message = [m for m in mail.outbox if m.to == [email] and "Resolved:" in m.body][-1]
    found = {}
    for line in message.body.splitlines():
        if match := LINK.search(line):
            found[line.split(":", 1)[0].lower()] = match["path"]
    return found


def anonymous(slug: str = "acme") -> Client:
    return Client(HTTP_HOST=f"{slug}.localhost")


def rating_of(customer: Customer, ticket: Ticket) -> Rating | None:
    with customer_schema(customer):
        return Rating.objects.filter(ticket_id=ticket.pk).first()


def rating_url(ticket: Ticket, slug: str = "acme") -> str:
    return f"/api/v1/customers/{slug}/tickets/{ticket.pk}/rating/"


def rate(user: User, ticket: Ticket, **body: Any) -> Any:
    return api_for(user).put(rating_url(ticket), body, format="json")


def acme_changed(user: User, **body: Any) -> Any:
    return api_for(user).patch("/api/v1/customers/acme/", body, format="json")


def test_one_click_from_the_email_rates_without_signing_in_and_rating_again_replaces(cast: Cast) -> None:
    ticket = resolved(cast)
    links = links_to("user@acme.test")
    assert set(links) == {"good", "okay", "bad"}
    clicked = anonymous().get(links["good"])
    assert clicked.status_code == 200, clicked.content
    assert b"Thank you" in clicked.content and b'id="rating-comment"' in clicked.content
    rating = rating_of(cast.acme, ticket)
    assert rating is not None and rating.score == "good" and rating.rated_by_id == cast.acme_user.pk
    commented = anonymous().post(links["good"], {"comment": "Quick and friendly"})
    assert commented.status_code == 200 and b"Your comment was saved" in commented.content
    assert anonymous().get(links["bad"]).status_code == 200  # changed their mind
    with customer_schema(cast.acme):
        assert Rating.objects.filter(ticket_id=ticket.pk).count() == 1
        rating = Rating.objects.get(ticket_id=ticket.pk)
        assert (rating.score, rating.comment) == ("bad", "Quick and friendly")
        entries = AuditEntry.objects.filter(content_type__model="rating", object_pk=str(rating.pk))
        # the requester's own act on the web, never an anonymous write
        assert {(e.actor_id, e.channel) for e in entries} == {(cast.acme_user.pk, "web")}
    read = api_for(cast.bob).get(rating_url(ticket))
    assert read.status_code == 200 and read.json()["score"] == "bad"
    assert read.json()["comment"] == "Quick and friendly" and read.json()["sla_met"] is True


def test_an_altered_token_is_refused(cast: Cast) -> None:
    ticket = resolved(cast)
    path = links_to("user@acme.test")["good"]
    token = path.split("/")[2]
    altered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    refused = anonymous().get(f"/rate/{altered}/")
    assert refused.status_code == 400 and b"not valid" in refused.content
    unsalted = signing.dumps(signing.loads(token, salt=LINK_SALT))  # right payload, wrong salt
    assert anonymous().get(f"/rate/{unsalted}/").status_code == 400
    assert anonymous().get("/rate/nonsense/").status_code == 400
    assert rating_of(cast.acme, ticket) is None


def test_a_token_of_one_ticket_never_rates_another_or_another_customers(cast: Cast) -> None:
    first = resolved(cast, subject="first")
    first_links = links_to("user@acme.test")
    second = resolved(cast, subject="second")
    token = first_links["good"].split("/")[2]
    # The signed payload of the first ticket with the second's id: the signature no longer fits.
    payload = signing.loads(token, salt=LINK_SALT)
    forged_value = signing.b64_encode(signing.JSONSerializer().dumps({**payload, "t": second.pk})).decode()
    forged = ":".join([forged_value, *token.split(":")[1:]])
    assert anonymous().get(f"/rate/{forged}/").status_code == 400
    # Acme's link on Globex's portal (ids collide across customers): not found there.
    globex_ticket = resolved(cast, by=cast.globex_user, subject="globex printer")
    assert globex_ticket.pk != 0
    elsewhere = anonymous("globex").get(first_links["good"])
    assert elsewhere.status_code == 404 and b"first" not in elsewhere.content
    assert rating_of(cast.acme, second) is None and rating_of(cast.globex, globex_ticket) is None
    assert anonymous().get(first_links["good"]).status_code == 200
    assert rating_of(cast.acme, first) is not None and rating_of(cast.acme, second) is None


def test_a_link_older_than_14_days_is_refused(cast: Cast) -> None:
    ticket = resolved(cast)
    path = links_to("user@acme.test")["okay"]
    with time_machine.travel(timezone.now() + timedelta(days=14, minutes=1)):
        refused = anonymous().get(path)
    assert refused.status_code == 410 and b"expired" in refused.content
    assert rating_of(cast.acme, ticket) is None
    with time_machine.travel(timezone.now() + timedelta(days=13, hours=23)):
        assert anonymous().get(path).status_code == 200


def test_only_the_requester_rates_and_only_a_resolved_or_closed_ticket(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user)
    url = rating_url(ticket)
    body = {"score": "okay", "comment": "Fine"}
    early = api_for(cast.acme_user).put(url, body, format="json")
    assert early.status_code == 409 and early.json()["code"] == "ticket_not_resolved"
    ticket = set_status(cast, ticket, "resolved")
    assert api_for(cast.acme_user).get(url).status_code == 404  # not rated yet
    for agent in (cast.bob, cast.alice, cast.acme_it):
        refused = api_for(agent).put(url, body, format="json")
        assert refused.status_code == 403, (agent, refused.content)
        assert "requester" in refused.json()["detail"]
    assert api_for(cast.acme_admin).post(url, body, format="json").status_code == 403  # a colleague
    assert api_for(cast.acme_user2).put(url, body, format="json").status_code == 404  # not theirs
    assert api_for(cast.globex_user).get(rating_url(ticket, "globex")).status_code == 404
    assert api_for(cast.charlie).get(url).status_code == 404  # not a member of Acme
    rated = api_for(cast.acme_user).put(url, body, format="json")
    assert rated.status_code == 200, rated.content
    assert rated.json()["score"] == "okay" and rated.json()["comment"] == "Fine"
    again = api_for(cast.acme_user).post(url, {"score": "good"}, format="json")
    assert again.status_code == 200 and again.json()["comment"] == ""  # the API replaces the rating
    assert api_for(cast.acme_user).put(url, {"score": "great"}, format="json").status_code == 400
    assert api_for(cast.acme_user).put(url, {"score": "good", "x": 1}, format="json").status_code == 400
    set_status(cast, ticket, "closed", by=cast.acme_user)
    assert api_for(cast.acme_user).put(url, {"score": "bad"}, format="json").status_code == 200
    for reader in (cast.bob, cast.alice, cast.acme_it, cast.acme_user):
        shown = api_for(reader).get(f"/api/v1/customers/acme/tickets/{ticket.pk}/").json()["rating"]
        assert shown["score"] == "bad" and set(shown) == {"score", "comment", "rated_at", "sla_met"}
    with customer_schema(cast.acme):
        assert Rating.objects.filter(ticket_id=ticket.pk).count() == 1


def test_the_ticket_list_reads_ratings_without_a_query_per_ticket(cast: Cast) -> None:
    def list_queries() -> tuple[int, list[Any]]:
        client = api_for(cast.bob)
        client.get("/api/v1/customers/acme/tickets/")
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/customers/acme/tickets/")
        assert response.status_code == 200
        return len(captured), response.json()["results"]

    def rated(subject: str) -> None:
        ticket = resolved(cast, subject=subject)
        assert rate(cast.acme_user, ticket, score="good").status_code == 200

    rated("one")
    few, rows = list_queries()
    assert [row["rating"]["score"] for row in rows if row["subject"] == "one"] == ["good"]
    for n in range(4):
        rated(f"more {n}")
    many, rows = list_queries()
    assert few == many
    assert len([row for row in rows if row["rating"]]) == 5


def test_asked_once_a_ticket_resolved_again_after_a_reopen_is_not_asked_again(cast: Cast) -> None:
    ticket = resolved(cast)
    assert len(links_to("user@acme.test")) == 3
    set_status(cast, ticket, "open", by=cast.acme_user)
    set_status(cast, ticket, "resolved")
    run_events(cast.acme, ticket)
    assert links_to("user@acme.test") == {}
    with customer_schema(cast.acme):
        assert SurveyRequest.objects.filter(ticket_id=ticket.pk).count() == 1


def test_with_surveys_off_no_links_and_no_portal_prompt(cast: Cast) -> None:
    with_surveys = resolved(cast, subject="with surveys")
    page = portal(cast.acme_user).get(f"/tickets/{with_surveys.pk}/")
    assert b'id="ticket-rating"' in page.content and b"How did we do?" in page.content
    assert b'id="ticket-rating"' not in portal(cast.acme_admin).get(f"/tickets/{with_surveys.pk}/").content
    customer_update(customer=cast.acme, changes=CustomerChanges(satisfaction_surveys=False))
    ticket = resolved(cast, subject="no surveys")
    assert links_to("user@acme.test") == {}
    message = [m for m in mail.outbox if m.to == ["user@acme.test"]][-1]
    assert "/rate/" not in message.body and "Resolved:" in message.body
    with customer_schema(cast.acme):
        assert not SurveyRequest.objects.filter(ticket_id=ticket.pk).exists()
    page = portal(cast.acme_user).get(f"/tickets/{ticket.pk}/")
    assert page.status_code == 200 and b'id="ticket-rating"' not in page.content


def test_the_portal_form_rates_and_shows_the_rating_to_change(cast: Cast) -> None:
    ticket = resolved(cast)
    client = portal(cast.acme_user)
    open_ticket = make_ticket(cast, cast.acme_user, subject="still open")
    assert b'id="ticket-rating"' not in client.get(f"/tickets/{open_ticket.pk}/").content
    refused = client.post(f"/tickets/{open_ticket.pk}/rating/", {"score": "good"})
    assert refused.status_code == 409
    sent = client.post(f"/tickets/{ticket.pk}/rating/", {"score": "okay", "comment": "Took a while"})
    assert sent.status_code == 302
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="rating-current"' in page and "Okay" in page and "Took a while" in page
    assert client.post(f"/tickets/{ticket.pk}/rating/", {"score": "meh"}).status_code == 400
    colleague = portal(cast.acme_admin).post(f"/tickets/{ticket.pk}/rating/", {"score": "bad"})
    assert colleague.status_code == 403
    assert portal(cast.acme_user2).post(f"/tickets/{ticket.pk}/rating/", {"score": "bad"}).status_code == 404
    rating = rating_of(cast.acme, ticket)
    assert rating is not None and rating.score == "okay"


def test_the_rating_records_whether_the_sla_was_met(cast: Cast) -> None:
    met, missed = resolved(cast, subject="met"), resolved(cast, subject="missed")
    with customer_schema(cast.acme):
        Ticket.objects.filter(pk=missed.pk).update(resolution_breached_at=timezone.now())
    for ticket in (met, missed):
        assert rate(cast.acme_user, ticket, score="good").status_code == 200
    assert api_for(cast.bob).get(rating_url(met)).json()["sla_met"] is True
    assert api_for(cast.bob).get(rating_url(missed)).json()["sla_met"] is False
    with customer_schema(cast.acme):
        Ticket.objects.filter(pk=met.pk).update(first_response_breached_at=timezone.now())
    kept = rating_of(cast.acme, met)
    assert kept is not None and kept.sla_met is True  # as it was then


def test_the_customers_admins_and_the_provider_admins_turn_surveys_off(cast: Cast) -> None:
    page = portal(cast.acme_admin).get("/users/").content
    assert b'id="surveys-setting"' in page
    assert b'id="surveys-setting"' not in portal(cast.acme_it).get("/users/").content
    assert portal(cast.acme_user).post("/settings/surveys/", {}).status_code == 403
    assert portal(cast.acme_it).post("/settings/surveys/", {}).status_code == 403
    assert portal(cast.acme_admin).post("/settings/surveys/", {}).status_code == 302  # unchecked: off
    cast.acme.refresh_from_db()
    cast.acme.settings.refresh_from_db()
    assert cast.acme.settings.satisfaction_surveys is False
    # The provider: the customer API and the console's edit page.
    assert api_for(cast.alice).get("/api/v1/customers/acme/").json()["satisfaction_surveys"] is False
    turned = acme_changed(cast.alice, satisfaction_surveys=True)
    assert turned.status_code == 200 and turned.json()["satisfaction_surveys"] is True
    assert acme_changed(cast.bob, satisfaction_surveys=False).status_code == 403
    cast.acme.settings.refresh_from_db()
    assert cast.acme.settings.satisfaction_surveys is True
    page = console(cast.alice).get("/customers/acme/edit/").content.decode()
    assert (
        'name="satisfaction_surveys"' in page
        and "checked" in page[page.index('name="satisfaction_surveys"') - 80 :]
    )
    fields = {"name": "Acme", "timezone": "Europe/Berlin", "portal_domains": "", "email_domains": ""}
    saved = console(cast.alice).post(
        "/customers/acme/edit/", {**fields, "default_sla": "", "business_hours": ""}
    )
    assert saved.status_code == 302, saved.content  # the box left unticked: off
    cast.acme.settings.refresh_from_db()
    assert cast.acme.settings.satisfaction_surveys is False


def test_the_requester_and_the_agents_read_a_rating_and_nobody_else(cast: Cast) -> None:
    ticket = resolved(cast)
    assert rate(cast.acme_user, ticket, score="bad", comment="requester-only-words").status_code == 200
    assert api_for(cast.bob).get(rating_url(ticket)).json()["comment"] == "requester-only-words"
    assert api_for(cast.acme_user).get(rating_url(ticket)).status_code == 200
    assert api_for(cast.acme_admin).get(rating_url(ticket)).status_code == 403
    ticket_url = f"/api/v1/customers/acme/tickets/{ticket.pk}/"
    assert api_for(cast.acme_admin).get(ticket_url).json()["rating"] is None
    assert api_for(cast.bob).get(ticket_url).json()["rating"]["score"] == "bad"
