"""The first thing that happens to a mail, on every path (SMTP, LMTP, IMAP): its raw bytes are
stored unchanged with their SHA-256, Message-ID, envelope and arrival time, in one transaction;
parsing follows in a worker after commit (``mail.tasks.process``). A message already stored
(same Message-ID and SHA-256, or the same SHA-256 without a Message-ID) is a duplicate: storing
it again changes nothing, concurrently or not."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from core.afterwards import after_response
from mail.models import Mailbox, Source
from mail.parsing import first_message_id
from mail.tasks import process


@dataclass(frozen=True)
class Stored:
    id: int
    new: bool


def store_raw(
    raw: bytes,
    *,
    envelope_from: str,
    envelope_to: Sequence[str],
    source: str = Source.SMTP,
    mailbox: Mailbox | None = None,
) -> Stored:
    digest = hashlib.sha256(raw).hexdigest()
    message_id = first_message_id(raw)[:998]
    recipients = [str(address).strip().lower() for address in envelope_to][:100]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO mail_inboundmessage (raw, sha256, message_id, envelope_from, envelope_to, "
                "source, mailbox_id, size, received_at, state, attempts, from_address, subject, too_large, "
                "flood, reason, trace, ticket_id, comment_id) "
                "VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, 'received', 0, '', '', false, false, '', "
                "'[]'::jsonb, NULL, NULL) ON CONFLICT (message_id, sha256) DO NOTHING RETURNING id",
                [
                    raw,
                    digest,
                    message_id,
                    envelope_from[:998],
                    json.dumps(recipients),
                    source,
                    mailbox.pk if mailbox is not None else None,
                    len(raw),
                    timezone.now(),
                ],
            )
            row = cursor.fetchone()
            if row is None:
                cursor.execute(
                    "SELECT id FROM mail_inboundmessage WHERE message_id = %s AND sha256 = %s",
                    [message_id, digest],
                )
                (existing,) = cursor.fetchone()
                return Stored(id=int(existing), new=False)
        stored = Stored(id=int(row[0]), new=True)
        transaction.on_commit(partial(after_response, partial(_enqueue, stored.id)), robust=True)
    return stored


def _enqueue(message_pk: int) -> None:
    process.apply_async((message_pk,))
