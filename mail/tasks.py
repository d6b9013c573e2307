"""The email channel's worker tasks: process a stored message after commit, and a sweep that
picks up messages a crashed worker left unprocessed (beat, every ``MAIL_SWEEP_SECONDS``), and the
polls of the IMAP mailboxes (beat, every ``MAIL_POLL_SECONDS``; ``mail.imap``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.jobs import JobTask
from mail import processing
from mail.models import InboundMessage, Mailbox, State

# A message still ``received`` this long after it arrived lost its task (a killed worker, a
# broker outage at enqueue time): the sweep runs it again.
STUCK_AFTER = timedelta(minutes=2)


@shared_task(base=JobTask, name=processing.JOB, ignore_result=True)
def process(message_pk: int) -> str:
    outcome = processing.process(message_pk)
    return outcome.state if outcome is not None else "skipped"


@shared_task(base=JobTask, name="mail.sweep")
def sweep() -> int:
    """Process what is still waiting; each message once (``processing.process`` locks it)."""
    stuck = InboundMessage.objects.filter(
        state=State.RECEIVED, received_at__lt=timezone.now() - STUCK_AFTER
    ).values_list("pk", flat=True)[:200]
    done = 0
    for pk in list(stuck):
        if processing.process(pk) is not None:
            done += 1
    return done


@shared_task(base=JobTask, name="mail.poll_mailboxes", ignore_result=True)
def poll_mailboxes() -> int:
    """Beat, every ``MAIL_POLL_SECONDS``: one poll task per mailbox (a poll still running keeps
    its mailbox's lock, and the new one for it does nothing)."""
    pks = list(Mailbox.objects.order_by("pk").values_list("pk", flat=True))
    for pk in pks:
        poll_mailbox.apply_async((pk,), expires=float(settings.MAIL_POLL_SECONDS))
    return len(pks)


@shared_task(base=JobTask, name="mail.poll_mailbox", ignore_result=True)
def poll_mailbox(mailbox_pk: int) -> str:
    from mail import imap  # here: mail.imap stores through mail.store, which enqueues ``process``

    polled = imap.poll_mailbox(mailbox_pk=mailbox_pk)
    if not polled.ran:
        return "skipped"
    return polled.error or f"fetched {polled.fetched}, new {polled.stored}"
