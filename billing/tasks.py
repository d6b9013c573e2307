from __future__ import annotations

from celery import shared_task

from audit.jobs import JobTask
from billing.services import day_passes_expire


@shared_task(base=JobTask, name="billing.expire_day_passes")
def expire_day_passes() -> int:
    """Record the passes that ended (beat, every ``DAY_PASS_EXPIRY_SECONDS``); idempotent."""
    return day_passes_expire()
