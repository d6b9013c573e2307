"""A mail the relay accepted is not sent twice when recording it failed: ``_email_once`` marks it
in Redis before its commit, and a later run that finds the mark records the row without sending
(the PostgreSQL-restart fault, bench/faults)."""

from __future__ import annotations

import uuid

from django.core import mail
from django.core.cache import caches

from notifications.models import Notification
from notifications.services import Message, notify_many, sent_mark_key
from tests.conftest import Cast


def _message(cast: Cast) -> Message:
    return Message(kind="ticket_updated", customer=cast.acme, title="Ticket 7 updated", body="b", url="/t/7/")


def test_a_sent_mail_is_marked_in_redis(cast: Cast) -> None:
    key = f"tests:sent-mark:{uuid.uuid4().hex}"
    notify_many([(cast.bob, _message(cast), key)])
    row = Notification.objects.get(user=cast.bob, event_key=key)
    assert len(mail.outbox) == 1 and row.emailed_at is not None
    assert caches["platform"].get(sent_mark_key(row)) == 1
    caches["platform"].delete(sent_mark_key(row))


def test_a_row_whose_mail_went_out_before_a_failed_commit_is_recorded_not_sent(cast: Cast) -> None:
    key = f"tests:sent-mark:{uuid.uuid4().hex}"
    # What a run leaves when the database went away between the relay's 250 and its commit: the
    # row un-emailed (the claim rolled back) and the mark in Redis.
    row = Notification.objects.create(
        user=cast.bob, kind="ticket_updated", customer=cast.acme, title="Ticket 7 updated", event_key=key
    )
    caches["platform"].set(sent_mark_key(row), 1, timeout=60)
    try:
        notify_many([(cast.bob, _message(cast), key)])
        row.refresh_from_db()
        assert mail.outbox == [] and row.emailed_at is not None
    finally:
        caches["platform"].delete(sent_mark_key(row))
