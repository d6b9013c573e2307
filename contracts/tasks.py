from __future__ import annotations

from celery import shared_task

from audit.jobs import JobTask
from contracts.services import EXPIRY_JOB, expire_due


@shared_task(base=JobTask, name=EXPIRY_JOB)
def expire_prepaid() -> int:
    """Close the prepaid blocks of contracts that ended (beat, every minute): expiry or rollover
    entries dated at the contract's end, local midnight in the customer's zone; idempotent."""
    return expire_due()
