"""The SLA worker task: the periodic sweep (scheduled by beat every SLA_SWEEP_SECONDS)."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from serviflow.tasks import JobTask
from sla.sweep import sla_sweep


@shared_task(base=JobTask, name="sla.sweep")
def sweep() -> dict[str, int | bool]:
    """Record due warnings and breaches and notify; safe to run twice or after a crash."""
    return asdict(sla_sweep())
