from __future__ import annotations

from celery import shared_task

from audit.jobs import JobTask
from imports.services import JOB, import_run, imports_redrive


@shared_task(base=JobTask, name=JOB)
def import_run_task(import_id: int, attempt: int) -> str:
    """Run one attempt of an import (dry or real); writes are attributed to the person who
    uploaded it, under this job's name. Delivered twice (acks_late), the second does nothing."""
    return import_run(import_id=import_id, attempt=attempt)


@shared_task(base=JobTask, name="imports.redrive")
def redrive() -> int:
    """Beat: enqueue again the imports whose enqueue a broker outage lost (``imports_redrive``)."""
    return imports_redrive()
