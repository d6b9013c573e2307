"""The notifications' worker job: the digests of email held by quiet hours (scheduled by beat
every NOTIFICATIONS_DIGEST_SECONDS)."""

from __future__ import annotations

from celery import shared_task

from audit.jobs import JobTask
from notifications.services import digests_send


@shared_task(base=JobTask, name="notifications.send_digests")
def send_digests() -> int:
    """One digest per person whose quiet hours ended; a held notification is marked emailed
    with its digest, so a second run sends nothing again. Returns how many digests went out."""
    return digests_send()
