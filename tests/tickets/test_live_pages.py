"""The live ticket page: polls answered 304 while nothing changed and afresh (announced) after a
change; a stale side-panel save refused with 409 and the current values; refusals inside the
panel."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.models import Ticket


def _live(page: str) -> tuple[str, str]:
    """The poll URL and the ETag a rendered ticket page's live region polls with."""
    url = re.search(r'id="ticket-live" hx-get="([^"]+)"', page)
    tag = re.search(r"If-None-Match&quot;: &quot;(\\&quot;[^&]+\\&quot;)", page)
    assert url and tag, "no live region"
    return url.group(1).replace("&amp;", "&"), tag.group(1).replace("\\&quot;", '"')


def _poll(client: Client, url: str, tag: str) -> Any:
    return client.get(url, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=tag)


def _seen(page: str) -> str:
    found = re.search(r'id="panel-form".*?name="seen" value="(\d+)"', page, re.S)
    assert found
    return found.group(1)


def test_an_unchanged_ticket_page_polls_304_with_one_query(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    url, tag = _live(client.get(f"/customers/acme/tickets/{ticket.pk}/").content.decode())
    first = _poll(client, url, tag)
    assert first.status_code == 304 and first.content == b""
    # What the view itself asks once the gates let the request in: one query.
    with CaptureQueriesContext(connection) as queries:
        assert _poll(client, url, tag).status_code == 304
    ticket_queries = [q["sql"] for q in queries.captured_queries if '"tickets_' in q["sql"]]
    assert len(ticket_queries) == 1, ticket_queries


def test_a_reply_and_a_change_render_the_page_afresh_and_are_announced(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    url, tag = _live(client.get(f"/customers/acme/tickets/{ticket.pk}/").content.decode())
    # Others, signed in (their writes are audited as theirs): the customer replies, Alice changes
    # the priority.
    portal(cast.acme_user).post(f"/tickets/{ticket.pk}/reply/", {"body": "Still jammed"})
    console(cast.alice).post(f"/customers/acme/tickets/{ticket.pk}/change/", {"priority": "P1"})
    response = _poll(client, url, tag)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert response["ETag"] != tag
    assert "Still jammed" in body and 'id="thread" hx-swap-oob="true"' in body
    assert (
        'id="ticket-panel" class="card" aria-label="Ticket properties" data-swap-refusals hx-swap-oob="true"'
        in body
    )
    assert f"{cast.acme_user.name} replied" in body
    assert f"Priority changed to P1 by {cast.alice.name}" in body
    assert 'name="body"' not in body  # never the reply box
    # The new version is current again: the next poll is 304.
    again_url, again_tag = _live(body)
    assert _poll(client, again_url, again_tag).status_code == 304


def test_own_changes_are_not_announced_and_bad_polls_are_400(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    path = f"/customers/acme/tickets/{ticket.pk}/"
    url, tag = _live(client.get(path).content.decode())
    client.post(f"{path}reply/", {"body": "On my way", "visibility": "public"})
    body = _poll(client, url, tag).content.decode()
    assert "On my way" in body and "replied" not in body
    for junk in ("abc", "-1", "1" * 30, "٣"):
        bad = client.get(f"{path}?seen={junk}", HTTP_HX_REQUEST="true")
        assert bad.status_code == 400 and "seen" in bad.content.decode()


def test_the_portal_page_is_live_and_never_hears_of_private_notes(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = portal(cast.acme_user)
    url, tag = _live(client.get(f"/tickets/{ticket.pk}/").content.decode())
    assert _poll(client, url, tag).status_code == 304
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Secret", public=False)
    assert _poll(client, url, tag).status_code == 304  # a note is no change for the customer
    console(cast.bob).post(f"/customers/acme/tickets/{ticket.pk}/reply/", {"body": "Try again now"})
    body = _poll(client, url, tag).content.decode()
    assert "Try again now" in body and f"{cast.bob.name} replied" in body
    assert "Secret" not in body and "private note" not in body


def test_a_stale_panel_save_is_409_with_the_current_values_and_reapplies(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    path = f"/customers/acme/tickets/{ticket.pk}/"
    seen = _seen(client.get(path).content.decode())
    console(cast.alice).post(f"{path}change/", {"priority": "P1"})
    stale = {"status": "", "priority": "P3", "assignee": str(cast.bob.pk), "ci": "", "seen": seen}
    refused = client.post(f"{path}change/", stale, HTTP_HX_REQUEST="true")
    body = refused.content.decode()
    assert refused.status_code == 409 and "<html" not in body and 'id="panel-conflict"' in body
    assert f"<strong>P1</strong>, changed by {cast.alice.name}" in body
    assert '<option value="P1" selected>' in body  # the panel shows the current values
    with customer_schema(cast.acme):
        assert (Ticket.objects.get(pk=ticket.pk).priority, Ticket.objects.get(pk=ticket.pk).assignee_id) == (
            "P1",
            None,
        )
    # Without JavaScript: the whole page, the refusal inside its panel.
    page = client.post(f"{path}change/", stale)
    assert (
        page.status_code == 409
        and "<html" in page.content.decode()
        and "panel-conflict" in page.content.decode()
    )
    # Re-applying sends the agent's values with the history now seen: saved.
    reapply = re.search(r'id="panel-conflict".*?name="seen" value="(\d+)"', body, re.S)
    assert reapply
    again = client.post(f"{path}change/", stale | {"seen": reapply.group(1)}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "Ticket updated." in again.content.decode()
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket.pk).assignee_id == cast.bob.pk


def test_a_reply_since_does_not_make_the_panel_stale(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    path = f"/customers/acme/tickets/{ticket.pk}/"
    seen = _seen(client.get(path).content.decode())
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="Any news?")
    saved = client.post(f"{path}change/", {"priority": "P2", "seen": seen}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200


def test_the_panel_shows_a_refusal_inside_itself(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Printer jam")
    client = console(cast.bob)
    path = f"/customers/acme/tickets/{ticket.pk}/"
    seen = _seen(client.get(path).content.decode())
    refused = client.post(f"{path}change/", {"status": "pending", "seen": seen}, HTTP_HX_REQUEST="true")
    body = refused.content.decode()
    assert (refused.status_code == 400 and body.startswith("<aside")) or 'id="ticket-panel"' in body
    assert 'id="panel-errors"' in body and "only after an agent" in body
    bad_ci = client.post(f"{path}change/", {"ci": "No such CI", "seen": seen}, HTTP_HX_REQUEST="true")
    assert bad_ci.status_code == 400 and 'id="panel-errors"' in bad_ci.content.decode()
    # Without JavaScript: the page, with the refusal in its panel.
    page = client.post(f"{path}change/", {"status": "pending"})
    assert page.status_code == 400 and "<html" in page.content.decode()
    assert "only after an agent" in page.content.decode()
