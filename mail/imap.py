"""IMAP polling of the provider's mailboxes (beat: ``mail.poll_mailboxes``, every
``MAIL_POLL_SECONDS``; one ``mail.poll_mailbox`` task per mailbox).

UID-based and idempotent: a mailbox remembers its folder's UIDVALIDITY and the last UID stored.
A poll asks only for UIDs above it, fetches read-only (EXAMINE, ``BODY.PEEK[]``: nothing is
flagged, moved or deleted on the server) and stores each message through ``mail.store.store_raw``
(the raw bytes first; parsing follows in a worker after commit), advancing ``last_uid`` only once
that message is committed. A connection dropped mid-fetch leaves ``last_uid`` at the last message
stored, so the next poll fetches the rest; a message stored but not yet counted is fetched again
and is a duplicate (``store_raw`` knows it by Message-ID and SHA-256), a no-op. A new UIDVALIDITY
(the folder was recreated) starts again from the first UID, with the same guarantee.

One poll per mailbox at a time: a PostgreSQL advisory lock on the mailbox, held by the polling
connection for the poll (released by PostgreSQL if the worker dies); a second poll finds it taken
and does nothing. Every poll that runs records ``last_poll`` and ``last_error`` (empty when it
went well): a sentence for the provider admin, never the password.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any, cast

from django.db import connection
from django.utils import timezone
from imap_tools import MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError, UnexpectedCommandStatusError

from mail.models import Mailbox, Source
from mail.secrets import Undecryptable, decrypt
from mail.store import store_raw

logger = logging.getLogger(__name__)

MAILBOX_LOCK = 5_160_001  # first key of a mailbox's pg advisory lock (the second: its id)
MAX_PER_POLL = 200  # messages fetched by one poll; the next poll goes on from there
TIMEOUT = 15  # seconds: connecting, and waiting for any answer of the server
_ERROR_MAX = 500


@dataclass(frozen=True)
class Polled:
    """What one poll did: ``ran`` False when another poll of the mailbox was running."""

    ran: bool
    fetched: int = 0
    stored: int = 0  # of those, new messages (the others were already stored)
    error: str = ""


class _RawMessage(MailMessage):
    """A fetched message with its bytes exactly as the server sent them (stored unchanged)."""

    def __init__(self, fetch_data: list[Any]) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


@contextmanager
def _mailbox_lock(mailbox_pk: int) -> Iterator[bool]:
    key = int(mailbox_pk) % 2_147_483_647
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [MAILBOX_LOCK, key])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [MAILBOX_LOCK, key])


def poll_mailbox(*, mailbox_pk: int) -> Polled:
    """Fetch what is new in one mailbox; never raises for what the server or network does."""
    with _mailbox_lock(mailbox_pk) as locked:
        if not locked:
            return Polled(ran=False)
        mailbox = Mailbox.objects.filter(pk=mailbox_pk).first()  # as the last poll left it
        if mailbox is None:
            return Polled(ran=False)
        progress = _Progress()
        error = ""
        try:
            _fetch_new(mailbox, progress)
        except Exception as exc:  # noqa: BLE001 - a poll records what went wrong and ends
            error = _described(exc, mailbox)
            logger.warning("mailbox %s: %s", mailbox.pk, error)
        Mailbox.objects.filter(pk=mailbox.pk).update(last_poll=timezone.now(), last_error=error)
        return Polled(ran=True, fetched=progress.fetched, stored=progress.stored, error=error)


@dataclass
class _Progress:
    fetched: int = 0
    stored: int = 0


def _connect(mailbox: Mailbox) -> MailBox | MailBoxUnencrypted:
    if mailbox.use_ssl:
        # imaplib alone would not check the server's certificate
        return MailBox(mailbox.host, mailbox.port, timeout=TIMEOUT, ssl_context=ssl.create_default_context())
    return MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT)


def _fetch_new(mailbox: Mailbox, progress: _Progress) -> None:
    password = decrypt(mailbox.password_encrypted)
    box = _connect(mailbox)
    box.email_message_class = _RawMessage
    try:
        box.login(mailbox.username, password, initial_folder=None)
        box.folder.set(mailbox.folder, readonly=True)  # EXAMINE: no flag changes, ever
        uidvalidity = _uidvalidity(box, mailbox.folder)
        if mailbox.uidvalidity != uidvalidity:
            # a folder we never read, or one recreated: its UIDs start over
            mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0
            Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
        found = box.uids(f"UID {mailbox.last_uid + 1}:*")
        # "N:*" names the last message even when its UID is below N
        uids = sorted(uid for uid in map(int, found) if uid > mailbox.last_uid)[:MAX_PER_POLL]
        if not uids:
            return
        for fetched in box.fetch(uid_list=[str(uid) for uid in uids], mark_seen=False, bulk=False):
            message = cast(_RawMessage, fetched)  # email_message_class above
            uid = int(message.uid or 0)
            if uid <= mailbox.last_uid:
                continue
            stored = store_raw(
                message.raw,
                envelope_from=_sender(message.raw),
                envelope_to=_recipients(mailbox, message.raw),
                source=Source.IMAP,
                mailbox=mailbox,
            )
            # committed (store_raw's own transaction): only now is this UID done
            Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=uid)
            mailbox.last_uid = uid
            progress.fetched += 1
            progress.stored += int(stored.new)
    finally:
        _close(box)


def _uidvalidity(box: MailBox | MailBoxUnencrypted, folder: str) -> int:
    _, data = box.client.response("UIDVALIDITY")  # from the EXAMINE answer
    if data and data[0]:
        return int(data[0])
    return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])


def _close(box: MailBox | MailBoxUnencrypted) -> None:
    try:
        if box.client.state in ("AUTH", "SELECTED"):
            box.logout()
        else:
            box.client.shutdown()
    except (OSError, imaplib.IMAP4.error, UnexpectedCommandStatusError):
        pass  # the connection is gone already


def _headers(raw: bytes) -> Any:
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def _sender(raw: bytes) -> str:
    headers = _headers(raw)
    for name in ("Return-Path", "From"):
        for _, address in getaddresses([str(value) for value in headers.get_all(name, [])]):
            if "@" in address:
                return address
    return ""


def _recipients(mailbox: Mailbox, raw: bytes) -> list[str]:
    """The mailbox's own address when its user name is one, else whom the mail names."""
    if "@" in mailbox.username:
        return [mailbox.username]
    headers = _headers(raw)
    values = [str(value) for name in ("To", "Cc") for value in headers.get_all(name, [])]
    return [address for _, address in getaddresses(values) if "@" in address][:100]


def _described(exc: Exception, mailbox: Mailbox) -> str:
    """What went wrong, for the provider admin: a sentence, without the password."""
    if isinstance(exc, Undecryptable):
        text = f"{exc}: enter the password again"
    elif isinstance(exc, MailboxLoginError):
        text = f"sign-in refused by {mailbox.host}: {_server_words(exc)}"
    elif isinstance(exc, MailboxFolderSelectError):
        text = f"cannot open the folder {mailbox.folder!r}: {_server_words(exc)}"
    elif isinstance(exc, UnexpectedCommandStatusError):
        text = f"the server refused a command: {_server_words(exc)}"
    elif isinstance(exc, imaplib.IMAP4.abort):
        text = f"the connection to {mailbox.host} was dropped: {exc}"
    elif isinstance(exc, socket.gaierror):
        text = f"unknown host {mailbox.host}"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS with {mailbox.host}:{mailbox.port} failed: {exc}"
    elif isinstance(exc, TimeoutError):
        text = f"{mailbox.host}:{mailbox.port} did not answer within {TIMEOUT} s"
    elif isinstance(exc, OSError):
        text = f"cannot reach {mailbox.host}:{mailbox.port}: {exc.strerror or exc}"
    elif isinstance(exc, imaplib.IMAP4.error):
        text = f"IMAP error: {exc}"
    else:
        logger.exception("mailbox %s: unexpected failure", mailbox.pk)
        text = f"unexpected failure ({type(exc).__name__}); see the worker's log"
    return _without_password(text, mailbox)[:_ERROR_MAX]


def _server_words(exc: UnexpectedCommandStatusError) -> str:
    """The server's own text of a refusal (``[b'[AUTHENTICATIONFAILED] ...']`` → its words)."""
    command_result = getattr(exc, "command_result", None)
    data = command_result[1] if isinstance(command_result, tuple) and len(command_result) > 1 else None
    if isinstance(data, list):
        words = " ".join(item.decode(errors="replace") for item in data if isinstance(item, bytes))
        if words:
            return words
    return str(exc)


def _without_password(text: str, mailbox: Mailbox) -> str:
    try:
        password = decrypt(mailbox.password_encrypted)
    except Undecryptable:
        return text
    return text.replace(password, "***") if password else text
