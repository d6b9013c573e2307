"""The automations' worker task: the time-based rules (beat, every AUTOMATION_TIME_SECONDS)."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from audit.jobs import JobTask
from automations.timed import time_rules_run


@shared_task(base=JobTask, name="automations.time_rules")
def time_rules() -> dict[str, int]:
    """Fire the time rules on the tickets that waited long enough; each once per stretch."""
    return asdict(time_rules_run())
