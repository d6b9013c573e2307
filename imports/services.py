"""Import workflows: submit a file, run it in a worker, see how it goes, retry a failed one.

A run (dry or real) is one transaction: the rows of the file are checked and written through
the apps' services, audited with the importing person as actor (and the job's name), and the
report is kept on the import. A dry run rolls that transaction back, so it reports exactly what
the real run would do and writes nothing. A real run commits the import's outcome with its rows,
all or nothing: a worker killed mid-file leaves nothing, and the import is failed once its
heartbeat stops (``imports.progress``). Refused rows are reported and skipped; the others are
imported. Rows are found by their natural key, so importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from audit.context import Actor, acting
from core.afterwards import after_response
from core.errors import RuleViolation
from imports.cis import import_cis
from imports.csvfile import parse_csv
from imports.customers import import_customers
from imports.models import Import, ImportKind, ImportStatus, Outcome
from imports.progress import Pulse
from imports.rows import Importer, Report, Run
from imports.users import import_users

logger = logging.getLogger(__name__)

JOB = "imports.run"
IMPORTERS: dict[str, Importer] = {
    ImportKind.CUSTOMERS: import_customers,
    ImportKind.USERS: import_users,
    ImportKind.CIS: import_cis,
}


def import_submit(
    *,
    by: User,
    kind: str,
    file_name: str,
    content: bytes,
    dry_run: bool,
    send_invites: bool,
    channel: str,
) -> Import:
    """Check the file as a whole (ValidationError on ``file`` or ``kind``: size, encoding,
    binary content, columns, row count) and queue its run."""
    table = parse_csv(content, kind=kind)
    job = Import.objects.create(
        kind=kind,
        dry_run=dry_run,
        send_invites=send_invites and not dry_run,
        file_name=file_name[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content=content,
        total=len(table.rows),
        created_by=by,
        channel=channel,
    )
    _enqueue_after_commit(job)
    return job


def _enqueue_after_commit(job: Import) -> None:
    """After commit and the response: a broker outage is logged, the import stays queued and
    ``imports_redrive`` enqueues it again (the request's work is saved, so no error for it)."""
    from imports.tasks import import_run_task

    enqueue = partial(import_run_task.delay, job.pk, job.attempt)
    transaction.on_commit(partial(after_response, enqueue), robust=True)


def imports_redrive(*, now: datetime | None = None) -> int:
    """Beat (``imports.redrive``): enqueue again the imports still queued ``OUTBOX_REDRIVE_AFTER``
    seconds after their upload (their enqueue failed, or its message was lost); how many. A
    second message for an import is harmless, a retried one's included (counted from its
    upload): only the queued attempt is claimed, by one of them."""
    from imports.tasks import import_run_task

    since = (now or timezone.now()) - timedelta(seconds=settings.OUTBOX_REDRIVE_AFTER)
    waiting = list(
        Import.objects.filter(status=ImportStatus.QUEUED, created_at__lt=since)
        .order_by("pk")
        .values_list("pk", "attempt")[:100]
    )
    for pk, attempt in waiting:
        import_run_task.delay(pk, attempt)
    return len(waiting)


def _dead_before() -> timedelta:
    return timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


def import_state(job: Import) -> Import:
    """The import as it stands: a run whose heartbeat stopped is failed now (its worker died;
    PostgreSQL rolled its transaction back)."""
    if job.status == ImportStatus.RUNNING and imports_fail_dead(
        Import.objects.filter(pk=job.pk, attempt=job.attempt)
    ):
        job.refresh_from_db()
    return job


def imports_fail_dead(imports: QuerySet[Import] | None = None) -> int:
    """Fail the runs (of ``imports``, or all) whose heartbeat stopped; how many there were. Not
    audited: bookkeeping of the worker's lease, like the heartbeat itself."""
    cutoff = timezone.now() - _dead_before()
    dead = (imports if imports is not None else Import.objects.all()).filter(
        status=ImportStatus.RUNNING, heartbeat_at__lt=cutoff
    )
    return dead.update(status=ImportStatus.FAILED, finished_at=timezone.now(), failure=WORKER_LOST)


WORKER_LOST = "The worker running this import stopped (it was killed or lost); nothing was imported."


def import_retry(*, job: Import, by: User) -> Import:
    """Run a failed import again, as a new attempt (the file is kept)."""
    with transaction.atomic():
        job = import_state(Import.objects.select_for_update().get(pk=job.pk))
        if job.status != ImportStatus.FAILED:
            raise RuleViolation(
                "import_not_failed",
                f"Only a failed import can be retried; this one is {job.status}.",
                status=409,
            )
        job.status = ImportStatus.QUEUED
        job.attempt += 1
        job.failure = ""
        job.processed = job.created = job.updated = job.unchanged = job.refused = 0
        job.report = []
        job.started_at = job.finished_at = job.heartbeat_at = None
        job.save(
            update_fields=[
                "status",
                "attempt",
                "failure",
                "processed",
                "created",
                "updated",
                "unchanged",
                "refused",
                "report",
                "started_at",
                "finished_at",
                "heartbeat_at",
            ]
        )
        _enqueue_after_commit(job)
    return job


def import_run(*, import_id: int, attempt: int) -> str:
    """The worker's part (``imports.tasks``). Only the queued attempt runs: a message delivered
    again after its worker died finds the import running with a stopped heartbeat (it fails it)
    or already failed, retried or done (it does nothing)."""
    now = timezone.now()
    claimed = Import.objects.filter(pk=import_id, attempt=attempt, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    job = Import.objects.select_related("created_by").filter(pk=import_id).first()
    if job is None:
        return "gone"
    if not claimed:
        return import_state(job).status
    actor = Actor(user=job.created_by, channel=job.channel, job=JOB)
    try:
        with acting(actor), Pulse(job) as pulse:
            _run(job, pulse)
    except Exception as exc:
        logger.exception("import %s (attempt %s) failed", job.pk, attempt)
        Import.objects.filter(pk=job.pk, attempt=attempt).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(), failure=_failure(exc)
        )
        return ImportStatus.FAILED
    return ImportStatus.DONE


def _failure(exc: Exception) -> str:
    if isinstance(exc, ValidationError):  # a rule broken by a concurrent change (a name just taken)
        return f"The import stopped: {' '.join(exc.messages)} Nothing was imported; retry it."
    return f"The import stopped on an unexpected error ({type(exc).__name__}); nothing was imported."


def _run(job: Import, pulse: Pulse) -> None:
    table = parse_csv(bytes(job.content), kind=job.kind)
    report = Report()
    run = Run(by=job.created_by, send_invites=job.send_invites, report=report, progress=pulse)
    with transaction.atomic():
        IMPORTERS[job.kind](table, run)
        pulse.stop()  # its last write must not wait for this transaction's lock on the row
        if job.dry_run:
            transaction.set_rollback(True)
        else:
            _finish(job, report)
    if job.dry_run:
        _finish(job, report)


def _finish(job: Import, report: Report) -> None:
    """The outcome, saved (and audited: who, counts) with the rows in a real run."""
    job.status = ImportStatus.DONE
    job.report = report.sorted()
    job.processed = job.total
    job.created = report.count(Outcome.CREATE)
    job.updated = report.count(Outcome.UPDATE)
    job.unchanged = report.count(Outcome.UNCHANGED)
    job.refused = report.count(Outcome.REFUSED)
    job.finished_at = job.heartbeat_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "report",
            "processed",
            "created",
            "updated",
            "unchanged",
            "refused",
            "finished_at",
            "heartbeat_at",
        ]
    )
