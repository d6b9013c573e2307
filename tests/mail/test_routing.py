"""The email channel's routing and parsing, rule by rule (email.md), with real stored messages
and the real workflows: each case names the ticket or comment it makes, or why it goes to
triage or is left alone."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core import mail as django_mail
from django.test import override_settings

from audit.models import AuditEntry
from mail import processing
from mail.addresses import reply_address, reply_target
from mail.models import InboundMessage, MailSettings, OutboundMessage, State
from mail.store import store_raw
from people.models import CustomerUser
from tenants.models import EmailDomain
from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console
from tickets import workflows
from tickets.models import Attachment, Comment, Ticket

INBOUND = "localhost"  # INBOUND_DOMAIN defaults to BASE_DOMAIN


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Direct writes run as the job "tests"."""


def mail(
    sender: str,
    to: str,
    subject: str = "Printer broken",
    body: str = "It does not print.",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="sender.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def deliver(message: EmailMessage | bytes, to: list[str] | None = None) -> InboundMessage:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    recipients = to if to is not None else [str(message["To"])] if not isinstance(message, bytes) else []
    stored = store_raw(raw, envelope_from="bounce@sender.test", envelope_to=recipients)
    processing.process(stored.id)
    return InboundMessage.objects.get(pk=stored.id)


def ticket_of(cast: Cast, message: InboundMessage) -> Ticket:
    assert message.ticket_id is not None, (message.state, message.reason, message.trace)
    with customer_schema(cast.acme):
        return Ticket.objects.select_related("requester_user").get(pk=message.ticket_id)


def test_a_users_mail_to_their_customers_address_opens_a_ticket_as_them(cast: Cast) -> None:
    got = deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body="Paper jam on floor 3."))
    assert got.state == State.TICKET and got.customer == cast.acme
    ticket = ticket_of(cast, got)
    assert ticket.subject == "Printer broken" and ticket.description == "Paper jam on floor 3."
    assert ticket.requester_user == cast.acme_user
    with customer_schema(cast.acme):
        entry = AuditEntry.objects.get(content_type__model="ticket", object_pk=str(ticket.pk))
        assert entry.actor == cast.acme_user and entry.channel == "email"
    assert [step["rule"] for step in got.trace][:3] == ["not a ticket", "1 reply address", "2 thread headers"]
    assert "4 pinned recipient" in got.reason


def test_the_same_message_twice_is_one_ticket_and_no_message_id_uses_the_content(cast: Cast) -> None:
    message = mail(cast.acme_user.email, f"acme@{INBOUND}")
    first, second = deliver(message), deliver(message)
    assert first.pk == second.pk and InboundMessage.objects.count() == 1
    with customer_schema(cast.acme):
        assert Ticket.objects.count() == 1
    without = mail(cast.acme_user.email, f"acme@{INBOUND}", subject="No id")
    del without["Message-ID"]
    assert deliver(without).pk == deliver(without).pk
    with customer_schema(cast.acme):
        assert Ticket.objects.count() == 2


def test_replies_by_reply_address_thread_headers_and_subject_reference(cast: Cast) -> None:
    ticket = ticket_of(cast, deliver(mail(cast.acme_user.email, f"acme@{INBOUND}")))
    by_address = deliver(
        mail(
            cast.acme_user.email,
            reply_address(cast.acme, ticket.pk),
            subject="Re: Printer broken",
            body="Still broken.\n\nOn Mon, Support wrote:\n> Please restart it.\n> Thanks",
        )
    )
    assert by_address.state == State.COMMENT and by_address.ticket_id == ticket.pk
    sent = OutboundMessage.objects.create(
        message_id="abc.1@localhost", customer=cast.acme, ticket_id=ticket.pk
    )
    by_thread = deliver(
        mail(
            cast.acme_user.email,
            "support@localhost",
            subject="Re: x",
            body="Thread reply",
            In_Reply_To=f"<{sent.message_id}>",
        )
    )
    assert by_thread.state == State.COMMENT and "2 thread headers" in by_thread.reason
    number = f"ACME-{ticket.number}"
    by_subject = deliver(
        mail(cast.acme_user.email, "support@localhost", subject=f"Re: [{number}] hi", body="Subject reply")
    )
    assert by_subject.state == State.COMMENT and "3 subject reference" in by_subject.reason
    with customer_schema(cast.acme):
        bodies = list(Comment.objects.filter(ticket=ticket).values_list("body", flat=True))
    assert bodies == ["Still broken.", "Thread reply", "Subject reply"]  # quoted history stripped


def test_a_forged_reference_or_a_forwarded_reply_address_never_writes_on_anothers_ticket(cast: Cast) -> None:
    ticket = ticket_of(cast, deliver(mail(cast.acme_user.email, f"acme@{INBOUND}")))
    number = f"ACME-{ticket.number}"
    # a globex user quotes acme's reference: ignored, their mail becomes a globex ticket
    forged = deliver(mail(cast.globex_user.email, "support@localhost", subject=f"[{number}] give me access"))
    assert forged.state == State.TICKET and forged.customer == cast.globex
    # a colleague who is not on the ticket, with the ticket's (forwarded) reply address: triage
    forwarded = deliver(mail(cast.acme_user2.email, reply_address(cast.acme, ticket.pk), subject="Re: x"))
    assert forwarded.state == State.TRIAGE and forwarded.customer is None
    # a reply address whose token was altered is no reply address at all
    altered = reply_address(cast.acme, ticket.pk).replace("+", "+9")
    for not_an_id in ("acme+\u00b2.0@localhost", "acme+\u0661.0@localhost", f"acme+{10**30}.0@localhost"):
        assert reply_target(not_an_id) is None  # ids are ASCII digits within bigint (core.parsers)
    assert deliver(mail(cast.acme_user.email, altered)).state != State.COMMENT
    with customer_schema(cast.acme):
        assert not Comment.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(
    ("headers", "sender", "why"),
    [
        ({"Auto_Submitted": "auto-replied"}, None, "Auto-Submitted"),
        ({"X_Autoreply": "yes"}, None, "automatic reply"),
        ({"Precedence": "bulk"}, None, "bulk"),
        ({}, "MAILER-DAEMON@mx.sender.test", "bounce"),
        ({}, "noreply@localhost", "loop"),
    ],
)
def test_auto_replies_bounces_lists_and_loops_make_nothing(
    cast: Cast, headers: dict[str, str], sender: str | None, why: str
) -> None:
    got = deliver(mail(sender or cast.acme_user.email, f"acme@{INBOUND}", **headers))
    assert got.state == State.IGNORED and why in got.reason
    with customer_schema(cast.acme):
        assert not Ticket.objects.exists()


def test_list_mail_needs_the_customers_consent(cast: Cast) -> None:
    listed = mail(cast.acme_user.email, f"acme@{INBOUND}", List_Id="<news.example.org>")
    assert deliver(listed).state == State.IGNORED
    MailSettings.objects.create(customer=cast.acme, accept_list_mail=True)
    listed.replace_header("Message-ID", make_msgid(domain="sender.test"))
    assert deliver(listed).state == State.TICKET


def test_unknown_senders_go_to_triage_unless_their_domain_is_taken(cast: Cast) -> None:
    stranger = deliver(mail("someone@nowhere.test", f"acme@{INBOUND}"))
    assert stranger.state == State.TRIAGE and "not a user of acme" in stranger.reason
    EmailDomain.objects.create(customer=cast.acme, domain="acme.test")
    newcomer = deliver(mail("New Person <new.person@acme.test>", "support@localhost"))
    assert newcomer.state == State.TRIAGE  # the domain is acme's, but acme takes no new senders
    MailSettings.objects.create(customer=cast.acme, accept_new_senders=True)
    again = mail("New Person <new.person@acme.test>", "support@localhost", subject="Second try")
    taken = deliver(again)
    assert taken.state == State.TICKET and "6 sender domain" in taken.reason
    with customer_schema(cast.acme):
        profile = CustomerUser.objects.select_related("user").get(user__email="new.person@acme.test")
        assert profile.user.name == "New Person"
        assert ticket_of(cast, taken).requester_user == profile.user


def test_mail_to_two_customers_goes_to_triage(cast: Cast) -> None:
    both = mail(cast.acme_user.email, f"acme@{INBOUND}, globex@{INBOUND}")
    got = deliver(both, to=[f"acme@{INBOUND}", f"globex@{INBOUND}"])
    assert got.state == State.TRIAGE and "several customers" in got.reason


@override_settings(EMAIL_MAX_BYTES=2048)
def test_a_mail_over_the_limit_is_stored_and_triaged_unparsed(cast: Cast) -> None:
    got = deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body="x" * 5000))
    assert got.state == State.TRIAGE and got.too_large and got.size > 2048
    assert bytes(got.raw).count(b"x") >= 5000


def test_charsets_html_only_and_attachments(cast: Cast) -> None:
    latin = (
        f"From: {cast.acme_user.email}\r\nTo: acme@{INBOUND}\r\nSubject: Drucker\r\n"
        "Message-ID: <latin@sender.test>\r\nContent-Type: text/plain\r\n\r\n"
    ).encode() + "Der Drucker druckt nicht. Grüße aus Köln, à bientôt.".encode("latin-1")
    ticket = ticket_of(cast, deliver(latin, to=[f"acme@{INBOUND}"]))
    assert ticket.description == "Der Drucker druckt nicht. Grüße aus Köln, à bientôt."

    html = EmailMessage()
    html["From"], html["To"], html["Subject"] = cast.acme_user.email, f"acme@{INBOUND}", "HTML"
    html["Message-ID"] = make_msgid(domain="sender.test")
    html.set_content(
        "<p>Hello <b>team</b></p><script>alert(1)</script><p>Line two &amp; more</p>", subtype="html"
    )
    ticket = ticket_of(cast, deliver(html))
    assert ticket.description == "Hello team\nLine two & more"

    with_files = mail(cast.acme_user.email, f"acme@{INBOUND}", subject="Files")
    with_files.add_attachment(
        b"\x89PNG\r\n\x1a\nimage", maintype="image", subtype="png", filename="screen.png"
    )
    with_files.add_attachment(
        b"MZ\x90\x00", maintype="application", subtype="octet-stream", filename="tool.exe"
    )
    ticket = ticket_of(cast, deliver(with_files))
    with customer_schema(cast.acme):
        assert list(Attachment.objects.filter(ticket=ticket).values_list("filename", flat=True)) == [
            "screen.png"
        ]
    assert "tool.exe" not in ticket.description  # the requester's text stays theirs
    with customer_schema(cast.acme):
        (note,) = Comment.objects.filter(ticket=ticket)
    assert (note.public, note.author_id, note.author_job, note.author_party) == (
        False,
        None,
        "mail.process",
        "system",
    )
    assert note.body.startswith("Attachments left out of this mail: ") and "tool.exe" in note.body


def test_notification_mail_carries_thread_headers_and_the_reply_address(cast: Cast) -> None:
    from tests.tickets.test_notifications import run_events

    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="Headers")
        )
        run_events(cast.acme, ticket)
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="On it")
        run_events(cast.acme, ticket)
    # the requester's two mails (Bob, Acme's member agent, also heard of the new ticket)
    first, second = [message for message in django_mail.outbox if message.to == [cast.acme_user.email]][-2:]
    assert first.extra_headers["Auto-Submitted"] == "auto-replied"
    assert first.extra_headers["Reply-To"] == reply_address(cast.acme, ticket.pk)
    # a mail answers the ticket's mail before it, whoever that went to
    before = django_mail.outbox[django_mail.outbox.index(second) - 1]
    assert second.extra_headers["In-Reply-To"] == before.extra_headers["Message-ID"]
    sent_ids = set(OutboundMessage.objects.filter(ticket_id=ticket.pk).values_list("message_id", flat=True))
    assert {message.extra_headers["Message-ID"].strip("<>") for message in django_mail.outbox} == sent_ids
    # the customer answers the second mail from their mail program: a comment on the ticket
    answer = mail(cast.acme_user.email, "support@localhost", subject="Re: x", body="Thanks!")
    answer["In-Reply-To"] = second.extra_headers["Message-ID"]
    got = deliver(answer)
    assert got.state == State.COMMENT and got.ticket_id == ticket.pk


def test_a_bounce_marks_the_address_it_reports_as_bouncing(cast: Cast) -> None:
    report = (
        "From: MAILER-DAEMON@mx.acme.test\r\nTo: noreply@localhost\r\nSubject: Undelivered Mail\r\n"
        "Message-ID: <dsn-1@mx.acme.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\n"
        f"Final-Recipient: rfc822; {cast.acme_user.email}\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n"
    ).encode()
    got = deliver(report, to=["noreply@localhost"])
    assert got.state == State.IGNORED and "bounce" in got.reason
    cast.acme_user.refresh_from_db()
    assert cast.acme_user.email_bouncing_since is not None
    page = console(cast.bob).get(f"/customers/acme/users/{cast.profile(cast.acme_user).pk}/")
    assert page.status_code == 200 and "bounces" in page.content.decode()
