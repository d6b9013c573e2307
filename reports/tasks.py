from __future__ import annotations

from celery import shared_task

from audit.jobs import JobTask
from reports.figures import month_ends_record
from reports.mailing import JOB, email_issued


@shared_task(base=JobTask, name="reports.record_month_ends")
def record_month_ends() -> int:
    """Record assets and users of each customer at its month's end (beat); idempotent."""
    return month_ends_record()


@shared_task(base=JobTask, name=JOB)
def email_issued_reports() -> int:
    """Email each customer's issued report on its schedule (beat); each at most once."""
    return email_issued()
