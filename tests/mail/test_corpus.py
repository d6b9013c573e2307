"""The email corpus (issue 16): real-world mail shapes as raw ``.eml`` files under ``corpus/``,
each delivered through the real path (``store_raw`` then ``processing.process``) and checked
against its expected outcome in ``corpus/cases.json``: a new ticket (subject, description,
requester, attachments, the private note naming what was left out), a comment on a ticket with
the quoted history stripped, triage with its reason, or ignored with its reason. None of them
may raise.

Placeholders in a file and in its expectations (``{acme_user}``, ``{acme_inbound}``,
``{reply_address}``, ``{ticket_ref}``, ``{sent_message_id}``, ...) are the test cast's
addresses and those of a ticket the case's ``setup`` makes first; they are substituted in the
raw bytes before storing. ``pad_to`` grows a mail to that size here rather than checking in
megabytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from mail import processing
from mail.addresses import inbound_domain, reply_address
from mail.models import InboundMessage, MailSettings, OutboundMessage, State
from mail.store import store_raw
from tenants.models import EmailDomain
from tenants.schema import customer_schema
from tests.conftest import Cast
from tickets import workflows
from tickets.models import Attachment, Comment, Party, Ticket

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
STATES = {"ticket": State.TICKET, "comment": State.COMMENT, "triage": State.TRIAGE, "ignored": State.IGNORED}


@pytest.fixture(autouse=True)
def _acting(actor: None, tmp_path: Path) -> Iterator[None]:
    """Direct writes run as the job "tests"; attachments go to a temporary folder."""
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        yield


def _placeholders(cast: Cast, setup: list[str]) -> tuple[dict[str, str], Ticket | None]:
    domain = inbound_domain()
    values = {
        "acme_user": cast.acme_user.email,
        "acme_user2": cast.acme_user2.email,
        "globex_user": cast.globex_user.email,
        "acme_inbound": f"acme@{domain}",
        "globex_inbound": f"globex@{domain}",
        "support": f"support@{domain}",
        "our_sender": parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1],
    }
    ticket = None
    if "ticket" in setup:
        with customer_schema(cast.acme):
            ticket = workflows.ticket_create(
                customer=cast.acme,
                by=cast.acme_user,
                new=workflows.NewTicket(subject="Printer on floor 3 is broken", description="Paper jam."),
            )
        sent = OutboundMessage.objects.create(
            message_id=f"ticket-{ticket.pk}.corpus@{domain}", customer=cast.acme, ticket_id=ticket.pk
        )
        values |= {
            "reply_address": reply_address(cast.acme, ticket.pk),
            "ticket_ref": f"{cast.acme.settings.ticket_prefix}-{ticket.number}",
            "sent_message_id": sent.message_id,
        }
    if "acme_domain" in setup:
        EmailDomain.objects.create(customer=cast.acme, domain="acme.test")
    if "acme_accepts_new_senders" in setup:
        MailSettings.objects.create(customer=cast.acme, accept_new_senders=True)
    return values, ticket


def _filled(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _raw(name: str, values: dict[str, str], pad_to: int = 0) -> bytes:
    raw = (CORPUS / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    if pad_to:
        line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
        raw += line * ((pad_to - len(raw)) // len(line) + 1) + b"\r\n--huge--\r\n"
    return raw


def _deliver(raw: bytes, case: dict[str, Any], values: dict[str, str]) -> InboundMessage:
    stored = store_raw(
        raw,
        envelope_from=_filled(case.get("envelope_from", "mta@sender.test"), values),
        envelope_to=[_filled(address, values) for address in case["to"]],
    )
    processing.process(stored.id)
    return InboundMessage.objects.get(pk=stored.id)


@pytest.mark.parametrize("case", CASES, ids=[case["file"].removesuffix(".eml") for case in CASES])
def test_corpus(cast: Cast, case: dict[str, Any]) -> None:
    values, setup_ticket = _placeholders(cast, case.get("setup", []))
    if "after" in case:
        _deliver(_raw(case["after"], values), {**case, "envelope_from": "mta@sender.test"}, values)
    raw = _raw(case["file"], values, case.get("pad_to", 0))
    got = _deliver(raw, case, values)
    why = (got.state, got.reason, got.trace)
    assert got.state == STATES[case["expect"]], why
    if "reason" in case:
        assert case["reason"] in got.reason, why
    if case.get("twice"):
        again = _deliver(raw, case, values)
        assert again.pk == got.pk and again.state == got.state
    if "messages_with_id" in case:
        assert InboundMessage.objects.filter(message_id=got.message_id).count() == case["messages_with_id"]
    if "pad_to" in case:
        assert got.too_large and got.size >= case["pad_to"] and got.subject == ""
        assert bytes(got.raw) == raw  # stored unchanged
    if "subject_stored" in case:
        assert got.subject == case["subject_stored"]
    customer = {"acme": cast.acme, "globex": cast.globex}[case.get("customer", "acme")]

    if got.state == State.TICKET:
        assert got.customer == customer and got.ticket_id is not None, why
        with customer_schema(customer):
            ticket = Ticket.objects.select_related("requester_user").get(pk=got.ticket_id)
            assert Ticket.objects.filter(subject=ticket.subject).count() == 1  # no duplicate ticket
            names = sorted(Attachment.objects.filter(ticket=ticket).values_list("filename", flat=True))
        if "subject" in case:
            assert ticket.subject == _filled(case["subject"], values)
        if "subject_contains" in case:
            assert case["subject_contains"] in ticket.subject
        if "description" in case:
            assert ticket.description == case["description"]
        for part in case.get("description_contains", []):
            assert part in ticket.description, ticket.description
        if "requester" in case:
            assert ticket.requester_user.email == _filled(case["requester"], values)
        if "requester_name" in case:
            assert ticket.requester_user.name == case["requester_name"]
        if "attachments" in case:
            assert names == sorted(case["attachments"])
        with customer_schema(customer):  # left-out attachments are named in the job's private note
            notes = list(Comment.objects.filter(ticket=ticket, author_party=Party.SYSTEM))
        assert all(not note.public and note.author_job == "mail.process" for note in notes)
        assert len(notes) == (1 if "note_contains" in case else 0), [note.body for note in notes]
        for part in case.get("note_contains", []):
            assert part in notes[0].body and part not in ticket.description
    if got.state == State.COMMENT:
        assert setup_ticket is not None and got.ticket_id == setup_ticket.pk and got.customer == cast.acme
        assert got.comment_id is not None
        with customer_schema(cast.acme):
            comment = Comment.objects.get(pk=got.comment_id)
        assert comment.ticket_id == setup_ticket.pk and comment.author == cast.acme_user
        assert comment.body == case["comment"]
    elif setup_ticket is not None:  # never a comment on the (other customer's) ticket
        with customer_schema(cast.acme):
            assert not Comment.objects.filter(ticket=setup_ticket).exists()
    if got.state in (State.TRIAGE, State.IGNORED):
        assert got.customer is None and got.ticket_id is None and got.comment_id is None
        for tenant in (cast.acme, cast.globex):  # nothing made anywhere (but the setup's ticket)
            with customer_schema(tenant):
                assert Ticket.objects.count() == (1 if setup_ticket and tenant == cast.acme else 0)
    assert got.trace, "every processed message keeps its trace"
