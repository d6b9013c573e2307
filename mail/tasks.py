"""The email channel's worker tasks: process a stored message after commit, and a sweep that
picks up messages a crashed worker left unprocessed (beat, every ``MAIL_SWEEP_SECONDS``)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from audit.jobs import JobTask
from mail import processing
from mail.models import InboundMessage, State

# A message still ``received`` this long after it arrived lost its task (a killed worker, a
# broker outage at enqueue time): the sweep runs it again.
STUCK_AFTER = timedelta(minutes=2)


@shared_task(base=JobTask, name="mail.process", ignore_result=True)
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
