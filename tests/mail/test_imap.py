"""The IMAP path against a real Dovecot (tests/mail/conftest.py): poll → the raw message
committed → the real Celery worker → a ticket. UID-based and idempotent: polling again fetches
nothing, a new UIDVALIDITY reads the folder again without duplicates, a connection dropped in
the middle of a fetch leaves the rest for the next poll (nothing twice), wrong credentials are
recorded and never raised, and one poll per mailbox runs at a time."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from audit.context import job_context
from mail import tasks
from mail.imap import Polled, poll_mailbox
from mail.mailboxes.services import MailboxFields, mailbox_create, mailbox_delete
from mail.models import InboundMessage, Mailbox, State
from mail.secrets import decrypt
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import ARTIFACTS, PASSWORD
from tests.mail.conftest import Dovecot
from tests.support.processes import wait_for
from tickets.models import Ticket

pytestmark = pytest.mark.worker


@pytest.fixture(autouse=True)
def _mailboxes_removed(django_db_blocker: Any) -> Iterator[None]:
    """The mailboxes a test made (committed rows) go when it ends: beat polls every mailbox,
    and a later test's worker must not spend its time on servers that are gone."""
    with django_db_blocker.unblock():
        before = Mailbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    yield
    with django_db_blocker.unblock(), job_context("tests.mail"):
        for mailbox in Mailbox.objects.filter(pk__gt=before):
            mailbox_delete(mailbox=mailbox)


def _mail(sender: str, subject: str, body: str, to: str = "support@imap.test") -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@sender.test>"
    message.set_content(body)
    return message.as_bytes()


def _mailbox(dovecot: Dovecot, folder: str, *, customer: Customer | None = None, port: int = 0) -> Mailbox:
    with job_context("tests.imap"):
        return mailbox_create(
            fields=MailboxFields(
                host=dovecot.host,
                port=port or dovecot.port,
                use_ssl=False,
                username=dovecot.user,
                password=dovecot.password,
                folder=folder,
                customer=customer,
            )
        )


def _poll(mailbox: Mailbox) -> Polled:
    with job_context("mail.poll_mailbox"):
        return poll_mailbox(mailbox_pk=mailbox.pk)


def _stored(mailbox: Mailbox) -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(mailbox=mailbox).defer("raw").order_by("pk"))


def test_a_pinned_mailbox_turns_two_mails_into_two_tickets_and_polls_nothing_twice(
    dovecot: Dovecot, worker_queue: str, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    folder = dovecot.new_folder()
    with django_db_blocker.unblock(), job_context("tests.imap"):
        customer = customer_provision(name=f"Imap {tag}", slug=f"imap-{tag}")
        with customer_schema(customer):
            dana = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"dana@imap-{tag}.test", name="Dana"),
                password=PASSWORD,
            ).user
    # addressed to the shared mailbox's own address: only the mailbox's pin says whose it is
    dovecot.append(folder, _mail(dana.email, "Printer jammed", "Tray 2."), _mail(dana.email, "VPN", "Down."))

    with django_db_blocker.unblock():
        mailbox = _mailbox(dovecot, folder, customer=customer)
        polled = _poll(mailbox)
        assert polled == Polled(ran=True, fetched=2, stored=2, error=""), polled
        wait_for(lambda: all(m.state == State.TICKET for m in _stored(mailbox)))
        first, second = _stored(mailbox)
        assert {first.customer_id, second.customer_id} == {customer.pk}
        assert any(step["result"] == f"pinned to {customer.slug}" for step in first.trace), first.trace
        assert first.envelope_to == [dovecot.user] and first.source == "imap"
        with customer_schema(customer):
            tickets = Ticket.objects.order_by("pk")
            assert [t.subject for t in tickets] == ["Printer jammed", "VPN"]
            assert {t.requester_user_id for t in tickets} == {dana.pk}
        mailbox.refresh_from_db()
        assert mailbox.last_uid == 2 and mailbox.uidvalidity and mailbox.last_poll and not mailbox.last_error
        polled_at = mailbox.last_poll

        again = _poll(mailbox)
        assert again == Polled(ran=True, fetched=0, stored=0, error="")
        assert len(_stored(mailbox)) == 2
        mailbox.refresh_from_db()
        assert mailbox.last_poll > polled_at
    assert dovecot.seen(folder) == 0  # read-only: nothing flagged on the server


def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(
    dovecot: Dovecot, worker_queue: str, django_db_blocker: Any
) -> None:
    folder = dovecot.new_folder()
    old = [_mail("someone@out.test", f"Old {n}", "Hello.") for n in range(2)]
    dovecot.append(folder, *old)
    with django_db_blocker.unblock():
        mailbox = _mailbox(dovecot, folder)
        assert _poll(mailbox).stored == 2
        mailbox.refresh_from_db()
        before = mailbox.uidvalidity

        dovecot.recreate(folder)  # the server renumbered the folder: UIDs 1, 2, 3 again
        dovecot.append(folder, *old, _mail("someone@out.test", "New", "Hello again."))
        polled = _poll(mailbox)
        assert polled == Polled(ran=True, fetched=3, stored=1, error=""), polled
        mailbox.refresh_from_db()
        assert mailbox.uidvalidity != before and mailbox.last_uid == 3
        assert len(_stored(mailbox)) == 3

        # a poll that stored but died before counting: the same UIDs again are duplicates
        Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)
        assert _poll(mailbox) == Polled(ran=True, fetched=3, stored=0, error="")
        assert len(_stored(mailbox)) == 3


class _Proxy:
    """A TCP relay in front of Dovecot that can hold the connection before its first byte
    (``hold``) and drop it the moment the server sends ``cut_at`` (before relaying it)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.cut_at: bytes | None = None
        self.hold = threading.Event()
        self.hold.set()
        self.connected = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self.connected.set()
        self.hold.wait(30)
        server = socket.create_connection(("127.0.0.1", self.target))
        done = threading.Event()

        def pump(source: socket.socket, sink: socket.socket, cut: bytes | None) -> None:
            seen = b""
            try:
                while chunk := source.recv(65536):
                    seen = (seen + chunk)[-(len(cut) + 65536) :] if cut else b""
                    if cut and cut in seen:
                        break  # dropped mid-fetch: this answer never arrives
                    sink.sendall(chunk)
            except OSError:
                pass
            done.set()

        threading.Thread(target=pump, args=(client, server, None), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, self.cut_at), daemon=True).start()
        done.wait(60)
        for sock in (client, server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(dovecot: Dovecot) -> Iterator[_Proxy]:
    relay = _Proxy(dovecot.port)
    yield relay
    relay.close()


def test_a_connection_dropped_mid_fetch_leaves_the_rest_for_the_next_poll(
    dovecot: Dovecot, proxy: _Proxy, worker_queue: str, django_db_blocker: Any
) -> None:
    folder = dovecot.new_folder()
    tag = uuid.uuid4().hex[:8]
    dovecot.append(folder, *(_mail("someone@out.test", f"Part {n}", f"body-{tag}-{n}") for n in range(1, 4)))
    proxy.cut_at = f"body-{tag}-2".encode()  # the second message's bytes never arrive
    with django_db_blocker.unblock():
        mailbox = _mailbox(dovecot, folder, port=proxy.port)
        dropped = _poll(mailbox)
        assert dropped.ran and dropped.fetched == 1 and dropped.stored == 1
        assert "connection" in dropped.error and "dropped" in dropped.error, dropped.error
        mailbox.refresh_from_db()
        assert mailbox.last_uid == 1 and mailbox.last_error == dropped.error and mailbox.last_poll
        assert len(_stored(mailbox)) == 1

        proxy.cut_at = None
        rest = _poll(mailbox)
        assert rest == Polled(ran=True, fetched=2, stored=2, error=""), rest
        mailbox.refresh_from_db()
        assert mailbox.last_uid == 3 and mailbox.last_error == ""
        raws = InboundMessage.objects.filter(mailbox=mailbox).values_list("raw", flat=True)
        assert len(raws) == 3
        stored = b"".join(bytes(raw) for raw in raws)
        assert all(f"body-{tag}-{n}".encode() in stored for n in (1, 2, 3))


def test_one_poll_per_mailbox_at_a_time(
    dovecot: Dovecot, proxy: _Proxy, worker_queue: str, django_db_blocker: Any
) -> None:
    folder = dovecot.new_folder()
    dovecot.append(folder, _mail("someone@out.test", "Once", "Only once."))
    results: list[Polled] = []

    def first_poll() -> None:
        try:
            results.append(_poll(mailbox))
        finally:
            connection.close()

    proxy.hold.clear()  # the first poll waits inside, holding its mailbox
    with django_db_blocker.unblock():
        mailbox = _mailbox(dovecot, folder, port=proxy.port)
        runner = threading.Thread(target=first_poll)
        runner.start()
        try:
            assert proxy.connected.wait(20)
            second = _poll(mailbox)
            assert second == Polled(ran=False)
            mailbox.refresh_from_db()
            assert mailbox.last_poll is None  # the skipped poll recorded nothing
        finally:
            proxy.hold.set()
            runner.join(60)
        assert results == [Polled(ran=True, fetched=1, stored=1, error="")]
        assert len(_stored(mailbox)) == 1


@pytest.mark.django_db
def test_wrong_credentials_and_an_unreachable_server_are_recorded_not_raised(dovecot: Dovecot) -> None:
    wrong_password = "Not-the-Password-9"
    with job_context("tests.imap"):
        mailbox = mailbox_create(
            fields=MailboxFields(
                host=dovecot.host,
                port=dovecot.port,
                use_ssl=False,
                username=dovecot.user,
                password=wrong_password,
                folder="INBOX",
            )
        )
    assert mailbox.password_encrypted and wrong_password not in mailbox.password_encrypted
    assert decrypt(mailbox.password_encrypted) == wrong_password
    polled = _poll(mailbox)
    assert polled.ran and polled.fetched == 0
    mailbox.refresh_from_db()
    assert mailbox.last_poll is not None
    assert mailbox.last_error.startswith("sign-in refused by 127.0.0.1"), mailbox.last_error
    assert wrong_password not in mailbox.last_error
    assert tasks.poll_mailbox(mailbox.pk) == mailbox.last_error  # the beat's task says the same

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        with job_context("tests.imap"):  # a change no person makes: moved under the test's name
            Mailbox.objects.filter(pk=mailbox.pk).update(port=closed.getsockname()[1])
    assert _poll(mailbox).ran
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("cannot reach 127.0.0.1:"), mailbox.last_error

    with job_context("tests.imap"):
        Mailbox.objects.filter(pk=mailbox.pk).update(port=dovecot.port, password_encrypted="not a token")
    assert _poll(mailbox).ran
    mailbox.refresh_from_db()
    assert "cannot be decrypted" in mailbox.last_error and "enter the password again" in mailbox.last_error


def test_beat_polls_every_mailbox_on_its_own(
    dovecot: Dovecot, worker_queue: str, mail_dir: Path, tmp_path: Path, django_db_blocker: Any
) -> None:
    """Nobody calls a poll here: beat (MAIL_POLL_SECONDS=5, the least) enqueues ``mail.poll_mailboxes``,
    which fans out one ``mail.poll_mailbox`` per mailbox to the real worker, and the mail in each
    of two mailboxes becomes a ticket of the customer that mailbox is pinned to."""
    from tests.support import processes

    tag = uuid.uuid4().hex[:6]
    folders = [dovecot.new_folder(), dovecot.new_folder()]
    with django_db_blocker.unblock(), job_context("tests.imap"):
        customers = [customer_provision(name=f"Beat {n} {tag}", slug=f"beat{n}-{tag}") for n in (1, 2)]
        senders = []
        for customer in customers:
            with customer_schema(customer):
                senders.append(
                    customer_user_create(
                        customer=customer,
                        fields=CustomerUserFields(email=f"kim@{customer.slug}.test", name="Kim"),
                        password=PASSWORD,
                    ).user
                )
        boxes = [
            _mailbox(dovecot, folder, customer=customer)
            for folder, customer in zip(folders, customers, strict=True)
        ]
    for folder, sender, n in zip(folders, senders, (1, 2), strict=True):
        dovecot.append(folder, _mail(sender.email, f"Polled by beat {n}", "Hello."))
    env = processes.process_env(
        CELERY_QUEUE=worker_queue, EMAIL_URL=f"file://{mail_dir}", MAIL_POLL_SECONDS="5"
    )
    beat = processes.start_beat(env, ARTIFACTS / "beat-mail.log", tmp_path / "beat-schedule")
    try:
        with django_db_blocker.unblock():
            wait_for(
                lambda: (
                    all(m.state == State.TICKET for box in boxes for m in _stored(box))
                    and all(_stored(box) for box in boxes)
                )
            )
    finally:
        processes.stop(beat)
    with django_db_blocker.unblock():
        for box, customer, n in zip(boxes, customers, (1, 2), strict=True):
            box.refresh_from_db()
            assert box.last_poll is not None and not box.last_error and box.last_uid == 1
            with customer_schema(customer):
                assert list(Ticket.objects.values_list("subject", flat=True)) == [f"Polled by beat {n}"]
