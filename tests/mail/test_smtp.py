"""The SMTP path end to end, through the real listener: smtplib → aiosmtpd → the raw message
committed → the real Celery worker → a ticket → the notification mail, with our thread headers
and the ticket's reply address; then the customer's answer to that mail, by SMTP again, lands
on the ticket. No open relay; the same message delivered twice at once is one ticket."""

from __future__ import annotations

import smtplib
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from audit.context import job_context
from mail.addresses import reply_address
from mail.models import InboundMessage, State
from people.services import CustomerUserFields, customer_user_create
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import ARTIFACTS, PASSWORD
from tests.support import processes
from tests.support.processes import free_port, wait_for
from tickets.index.services import display_number
from tickets.models import Comment, Ticket

pytestmark = pytest.mark.worker


class Sink:
    """A real SMTP server the worker sends its notification mail to: it keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(BytesParser(policy=default_policy).parsebytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    handler = Sink()
    server = Controller(handler, hostname="127.0.0.1", port=free_port())
    server.start()
    handler.port = server.port  # type: ignore[attr-defined]
    yield handler
    server.stop()


@pytest.fixture(scope="module")
def mail_env(django_db_setup: None, media_dir: Path, sink: Sink) -> Iterator[dict[str, str]]:
    """The environment of the listeners below, and a Celery worker of its own on it, against
    the test database; the worker's mail goes over SMTP to ``sink``."""
    queue = f"test-mail-{uuid.uuid4().hex[:8]}"
    env = processes.process_env(
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",  # type: ignore[attr-defined]
        MEDIA_ROOT=str(media_dir),
        CELERY_QUEUE=queue,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    worker = processes.start_worker(queue, env, ARTIFACTS / "mail_worker.log")
    yield env
    processes.stop(worker)


@pytest.fixture(scope="module")
def listener(mail_env: dict[str, str]) -> Iterator[int]:
    """``manage.py mail_server`` (SMTP) on a free port."""
    port = free_port()
    server = processes.start_mail_server(port, mail_env, ARTIFACTS / "mail_server.log")
    yield port
    processes.stop(server)


def _mail(sender: str, to: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="sender.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def _send(port: int, message: EmailMessage, to: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail(str(message["From"]), to, message.as_bytes())


def test_a_mail_becomes_a_ticket_and_the_answer_to_its_notice_a_comment(
    listener: int, sink: Sink, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.mail"):
        customer = customer_provision(name=f"Mx {tag}", slug=f"mx-{tag}")
        with customer_schema(customer):
            dana = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"dana@mx-{tag}.test", name="Dana"),
                password=PASSWORD,
            ).user

    # no open relay: a recipient on a domain we do not serve is refused
    with (
        pytest.raises(smtplib.SMTPRecipientsRefused),
        smtplib.SMTP("127.0.0.1", listener, timeout=30) as smtp,
    ):
        smtp.sendmail(dana.email, ["someone@elsewhere.test"], b"Subject: relay?\r\n\r\nno")

    _send(
        listener,
        _mail(dana.email, f"{customer.slug}@localhost", "VPN down", "Since 9."),
        [f"{customer.slug}@localhost"],
    )
    with django_db_blocker.unblock():
        wait_for(lambda: InboundMessage.objects.filter(from_address=dana.email, state=State.TICKET).exists())
        message = InboundMessage.objects.get(from_address=dana.email)
        with customer_schema(customer):
            ticket = Ticket.objects.get(pk=int(message.ticket_id or 0))
        assert ticket.subject == "VPN down" and ticket.requester_user_id == dana.pk
    wait_for(lambda: sink.to(dana.email))
    (notice,) = sink.to(dana.email)
    assert notice["Subject"] == f"[{display_number(customer, ticket.number)}] VPN down"  # email.md
    assert notice["Reply-To"] == reply_address(customer, ticket.pk)
    assert notice["Auto-Submitted"] == "auto-replied" and notice["Message-ID"].endswith("@localhost>")

    # Dana answers from her mail program: In-Reply-To names our notice
    answer = _mail(
        dana.email,
        str(notice["Reply-To"]),
        "Re: VPN down",
        "Works again.\n\n> Since 9.",
        In_Reply_To=str(notice["Message-ID"]),
    )
    _send(listener, answer, [str(notice["Reply-To"])])
    with django_db_blocker.unblock():
        wait_for(lambda: InboundMessage.objects.filter(from_address=dana.email, state=State.COMMENT).exists())
        with customer_schema(customer):
            assert list(Comment.objects.filter(ticket=ticket).values_list("body", flat=True)) == [
                "Works again."
            ]


def test_the_same_message_delivered_twice_at_once_makes_one_ticket(
    listener: int, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.mail"):
        customer = customer_provision(name=f"Dup {tag}", slug=f"dup-{tag}")
        with customer_schema(customer):
            sender = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"eve@dup-{tag}.test", name="Eve"),
                password=PASSWORD,
            ).user
    message = _mail(sender.email, f"{customer.slug}@localhost", "Twice", "Same bytes.")
    threads = [
        threading.Thread(target=_send, args=(listener, message, [f"{customer.slug}@localhost"]))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with django_db_blocker.unblock():
        wait_for(
            lambda: InboundMessage.objects.filter(from_address=sender.email, state=State.TICKET).exists()
        )
        assert InboundMessage.objects.filter(envelope_from=sender.email).count() == 1
        with customer_schema(customer):
            assert Ticket.objects.count() == 1


def test_lmtp_delivery_is_stored_as_lmtp_and_makes_its_ticket(
    mail_env: dict[str, str], django_db_blocker: Any
) -> None:
    """``mail_server --lmtp``, as an MTA in front of ServiFlow (Postfix's ``lmtp:`` transport)
    delivers: LHLO, a recipient we serve, DATA; one on another domain is refused."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.mail"):
        customer = customer_provision(name=f"Lmtp {tag}", slug=f"lmtp-{tag}")
        with customer_schema(customer):
            sender = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"lou@lmtp-{tag}.test", name="Lou"),
                password=PASSWORD,
            ).user
    port = free_port()
    server = processes.start_mail_server(port, mail_env, ARTIFACTS / "lmtp_server.log", lmtp=True)
    try:
        to = f"{customer.slug}@localhost"
        with smtplib.LMTP("127.0.0.1", port) as lmtp:
            code, _ = lmtp.ehlo()  # smtplib.LMTP sends LHLO
            assert code == 250 and lmtp.does_esmtp
            refused = lmtp.sendmail(
                sender.email,
                [to, "someone@elsewhere.test"],
                _mail(sender.email, to, "Over LMTP", "Printer offline.").as_bytes(),
            )
        assert list(refused) == ["someone@elsewhere.test"]
    finally:
        processes.stop(server)
    with django_db_blocker.unblock():
        wait_for(
            lambda: InboundMessage.objects.filter(from_address=sender.email, state=State.TICKET).exists()
        )
        message = InboundMessage.objects.get(from_address=sender.email)
        assert message.source == "lmtp" and message.envelope_to == [to]
        with customer_schema(customer):
            assert list(Ticket.objects.values_list("subject", flat=True)) == ["Over LMTP"]
