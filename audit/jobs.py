"""Background jobs act under their own identity: ``JobTask`` runs every task under its name
(``audit.context.job_context``), never as a person and never anonymously.

Tasks are acknowledged late (a killed worker's task is delivered again), so each must be
idempotent: running it twice leaves the same state as running it once. Tasks that work inside
one customer's schema use ``tenants.jobs.TenantTask``.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from audit.context import job_context


class JobTask(Task):  # type: ignore[type-arg]
    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Calls run() itself: Task.__call__ would push a bare request over the worker's one.
        with job_context(self.name):
            return self.run(*args, **kwargs)
