"""The email channel's console pages: the triage list (send to a customer, discard), a
customer's mail settings, and the original of a mail on its ticket ("Received by email")."""

from __future__ import annotations

import pytest

from mail import processing
from mail.models import InboundAddress, InboundMessage, State
from mail.store import store_raw
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.mail.test_api import triaged
from tests.mail.test_routing import mail
from tests.support.clients import console, portal
from tickets.models import Ticket


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Direct writes run as the job "tests"."""


def test_triage_page_sends_a_mail_to_a_customer_or_discards_it(cast: Cast) -> None:
    first, second = triaged(), triaged(sender="other@nowhere.test")
    page = console(cast.bob).get("/mail/triage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "stranger@nowhere.test" in text and "no rule applied" in text and "6 sender domain" in text
    assert 'value="globex"' not in text  # bob works acme only
    sent = console(cast.bob).post(f"/mail/triage/{first.pk}/assign/", {"customer": "acme"})
    assert sent.status_code == 302 and "/customers/acme/tickets/" in sent["Location"]
    refused = console(cast.bob).post(f"/mail/triage/{second.pk}/assign/", {"customer": "globex"})
    assert refused.status_code == 302  # back to the list, with the refusal said
    second.refresh_from_db()
    assert second.state == State.TRIAGE
    assert console(cast.bob).post(f"/mail/triage/{second.pk}/discard/").status_code == 302
    second.refresh_from_db()
    assert second.state == State.DISCARDED and second.handled_by == cast.bob
    assert console(cast.acme_it).get("/mail/triage/").status_code == 404  # the provider's list


def test_mail_settings_page(cast: Cast) -> None:
    page = console(cast.bob).get("/customers/acme/email/")
    assert page.status_code == 200 and "acme@localhost" in page.content.decode()
    assert console(cast.bob).post("/customers/acme/email/", {"addresses": "x@acme.test"}).status_code == 403
    saved = console(cast.alice).post(
        "/customers/acme/email/",
        {"addresses": "helpdesk@acme.test\n", "domains": "acme.test", "accept_new_senders": "on"},
    )
    assert saved.status_code == 302
    assert InboundAddress.objects.get(address="helpdesk@acme.test").customer == cast.acme
    assert console(cast.alice).post("/customers/acme/email/", {"addresses": "nope"}).status_code == 400


def test_a_ticket_from_email_links_its_original_for_its_agents_only(cast: Cast) -> None:
    stored = store_raw(
        mail(cast.acme_user.email, "acme@localhost", body="Screen flickers.").as_bytes(),
        envelope_from=cast.acme_user.email,
        envelope_to=["acme@localhost"],
    )
    processing.process(stored.id)
    message = InboundMessage.objects.get(pk=stored.id)
    with customer_schema(cast.acme):
        ticket = Ticket.objects.get(pk=int(message.ticket_id or 0))
    page = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    original = f"/customers/acme/tickets/{ticket.pk}/mail/{message.pk}/"
    assert "Received by email" in page and original in page
    shown = console(cast.bob).get(original)
    assert shown.status_code == 200 and "Screen flickers." in shown.content.decode()
    raw = console(cast.bob).get(f"{original}?raw=true")
    assert raw["Content-Type"] == "message/rfc822" and raw.content == bytes(message.raw)
    assert console(cast.bob).get(f"{original}?raw=maybe").status_code == 400
    # another customer's path, another ticket of the same customer, a non-member agent: 404
    assert (
        console(cast.alice).get(f"/customers/globex/tickets/{ticket.pk}/mail/{message.pk}/").status_code
        == 404
    )
    assert (
        console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk + 1000}/mail/{message.pk}/").status_code
        == 404
    )
    assert console(cast.charlie).get(original).status_code == 404


def test_the_note_on_left_out_attachments_is_for_agents_only(cast: Cast) -> None:
    """email.md: an attachment over the limits is left out and named in a private note, which
    the email channel writes under its own name: agents see it (console, API), the requester
    never does."""
    sent = mail(cast.acme_user.email, "acme@localhost", subject="Installer", body="It fails.")
    sent.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="tool.exe")
    stored = store_raw(sent.as_bytes(), envelope_from=cast.acme_user.email, envelope_to=["acme@localhost"])
    processing.process(stored.id)
    ticket_id = int(InboundMessage.objects.get(pk=stored.id).ticket_id or 0)

    page = console(cast.bob).get(f"/customers/acme/tickets/{ticket_id}/").content.decode()
    assert "tool.exe" in page and 'title="mail.process">Automatic</span>' in page
    comments = api_for(cast.bob).get(f"/api/v1/customers/acme/tickets/{ticket_id}/comments/").json()
    (note,) = comments["results"]
    assert (note["public"], note["author"], note["author_job"], note["author_party"]) == (
        False,
        None,
        "mail.process",
        "system",
    )
    assert "tool.exe" in note["body"]
    assert "tool.exe" not in portal(cast.acme_user).get(f"/tickets/{ticket_id}/").content.decode()
    mine = api_for(cast.acme_user).get(f"/api/v1/customers/acme/tickets/{ticket_id}/comments/").json()
    assert mine["results"] == []
