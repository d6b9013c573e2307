"""The email channel's API: a customer's mail settings (provider admins write, member agents
read, nobody else sees them) and the triage list (provider staff): read a mail with its trace,
send it to a customer (201, the ticket) or discard it (audited)."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from mail import processing
from mail.models import InboundAddress, InboundMessage, MailSettings, State
from mail.store import store_raw
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.mail.test_routing import mail
from tickets.models import Ticket

SETTINGS = "/api/v1/customers/acme/email/"
TRIAGE = "/api/v1/email/triage/"


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Direct writes run as the job "tests"."""


def triaged(sender: str = "stranger@nowhere.test", to: str = "support@localhost") -> InboundMessage:
    stored = store_raw(mail(sender, to).as_bytes(), envelope_from=sender, envelope_to=[to])
    processing.process(stored.id)
    message = InboundMessage.objects.get(pk=stored.id)
    assert message.state == State.TRIAGE, message.reason
    return message


def test_mail_settings_are_the_providers_to_change(cast: Cast) -> None:
    read = api_for(cast.bob).get(SETTINGS)
    assert read.status_code == 200, read.content
    assert read.json()["address"] == "acme@localhost" and read.json()["addresses"] == ["acme@localhost"]
    assert read.json()["accept_new_senders"] is False
    changed = api_for(cast.alice).patch(
        SETTINGS,
        {"addresses": ["helpdesk@acme.test"], "domains": ["acme.test"], "accept_new_senders": True},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["addresses"] == ["acme@localhost", "helpdesk@acme.test"]
    assert changed.json()["domains"] == ["acme.test"] and changed.json()["accept_new_senders"] is True
    assert InboundAddress.objects.get(address="helpdesk@acme.test").customer == cast.acme
    assert MailSettings.objects.get(customer=cast.acme).accept_new_senders is True
    assert api_for(cast.bob).patch(SETTINGS, {"accept_new_senders": False}, format="json").status_code == 403
    for outsider in (cast.acme_admin, cast.acme_user, cast.charlie, cast.globex_admin):
        assert api_for(outsider).get(SETTINGS).status_code == 404
    taken = api_for(cast.alice).patch(
        "/api/v1/customers/globex/email/", {"addresses": ["helpdesk@acme.test"]}, format="json"
    )
    assert taken.status_code == 400 and "already in use" in str(taken.json())
    bad = api_for(cast.alice).patch(SETTINGS, {"addresses": ["not an address"]}, format="json")
    assert bad.status_code == 400 and "addresses" in bad.json()["fields"]
    # an alias pinned to acme routes there
    got = InboundMessage.objects.get(
        pk=store_raw(
            mail(cast.acme_user.email, "helpdesk@acme.test").as_bytes(),
            envelope_from=cast.acme_user.email,
            envelope_to=["helpdesk@acme.test"],
        ).id
    )
    processing.process(got.pk)
    got.refresh_from_db()
    assert got.state == State.TICKET and got.customer == cast.acme


def test_triage_is_read_assigned_and_discarded_by_provider_staff(cast: Cast) -> None:
    first, second = triaged(), triaged(sender="other@nowhere.test")
    listed = api_for(cast.bob).get(TRIAGE)
    assert listed.status_code == 200, listed.content
    rows = listed.json()["results"]
    assert [row["id"] for row in rows] == [second.pk, first.pk]
    assert rows[0]["from"] == "other@nowhere.test" and rows[0]["reason"] == "no rule applied"
    assert [step["rule"] for step in rows[0]["trace"]][-1] == "6 sender domain"
    for outsider in (cast.acme_admin, cast.acme_user, cast.acme_it):
        assert api_for(outsider).get(TRIAGE).status_code == 404

    assigned = api_for(cast.bob).post(f"{TRIAGE}{first.pk}/assign/", {"customer": "acme"}, format="json")
    assert assigned.status_code == 201, assigned.content
    ticket_id = assigned.json()["id"]
    assert assigned.json()["requester_email"] == "stranger@nowhere.test"  # a new user of acme
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket_id).subject == "Printer broken"
    first.refresh_from_db()
    assert first.state == State.TICKET and first.handled_by == cast.bob and first.customer == cast.acme
    again = api_for(cast.bob).post(f"{TRIAGE}{first.pk}/assign/", {"customer": "acme"}, format="json")
    assert again.status_code == 404  # no longer in triage
    foreign = api_for(cast.bob).post(f"{TRIAGE}{second.pk}/assign/", {"customer": "globex"}, format="json")
    assert foreign.status_code == 404  # bob does not work globex

    discarded = api_for(cast.bob).post(f"{TRIAGE}{second.pk}/discard/")
    assert discarded.status_code == 200 and discarded.json()["state"] == State.DISCARDED
    entry = AuditEntry.objects.filter(content_type__model="inboundmessage", object_pk=str(second.pk)).latest(
        "id"
    )
    assert entry.actor == cast.bob and entry.channel == "api" and "state" in entry.changes_dict
    assert api_for(cast.bob).get(TRIAGE).json()["results"] == []
