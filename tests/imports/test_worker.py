"""Imports in a real Celery worker over real Redis: a run, a re-run, and a worker killed with
SIGKILL in the middle of a file (nothing imported, the import failed, a retry imports it).

These need committed rows (the worker is another process): each test provisions customers of
its own."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from accounts.models import User
from audit.context import job_context, person_context
from cmdb.models import ConfigurationItem
from imports.models import Import
from imports.services import import_retry, import_state
from serviflow.celery import app
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests import conftest
from tests.imports.conftest import submit
from tests.support import processes

pytestmark = pytest.mark.worker
TIMEOUT = 90
LEASE = 3


def _admin() -> User:
    assert conftest._CAST is not None
    return conftest._CAST.alice


def _submit(kind: str, text: str, *, dry_run: bool = False, send_invites: bool = False) -> Import:
    with transaction.atomic():  # queued once committed
        return submit(_admin(), kind, text, dry_run=dry_run, send_invites=send_invites)


def _finished(job: Import, timeout: float = TIMEOUT) -> Import:
    processes.wait_for(
        lambda: import_state(Import.objects.get(pk=job.pk)).status in ("done", "failed"), timeout
    )
    return Import.objects.get(pk=job.pk)


def _customer(prefix: str) -> Customer:
    with job_context("tests.imports"):
        return customer_provision(name=prefix, slug=f"{prefix}-{uuid.uuid4().hex[:6]}")


def test_a_worker_runs_an_import_and_a_second_run_creates_nothing(
    worker_queue: str, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock():
        customer = _customer("imp")
        text = "customer,email,name\n" + "".join(
            f"{customer.slug},u{n}@{customer.slug}.test,U{n}\n" for n in range(50)
        )
        dry = _finished(_submit("users", text, dry_run=True))
        assert (dry.status, dry.created) == ("done", 50)
        assert not User.objects.filter(customer=customer).exists()
        real = _finished(_submit("users", text))
        assert (real.status, real.created, real.processed) == ("done", 50, 50)
        assert User.objects.filter(customer=customer).count() == 50
        again = _finished(_submit("users", text))
        assert (again.status, again.created, again.unchanged) == ("done", 0, 50)
        assert User.objects.filter(customer=customer).count() == 50


def test_imported_users_get_activation_emails_only_when_asked(
    worker_queue: str, mail_dir: Path, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock():
        customer = _customer("inv")
        row = f"customer,email\n{customer.slug},{{}}@{customer.slug}.test\n"
        quiet = _finished(_submit("users", row.format("quiet")))
        asked = _finished(_submit("users", row.format("asked"), send_invites=True))
    assert (quiet.created, asked.created) == (1, 1)

    def mails() -> str:
        return "\n".join(path.read_text() for path in mail_dir.glob("*.log"))

    processes.wait_for(lambda: f"asked@{customer.slug}.test" in mails(), TIMEOUT)
    assert f"http://{customer.slug}.localhost" in mails() and "/activate/" in mails()
    assert f"quiet@{customer.slug}.test" not in mails()


def test_a_worker_killed_mid_file_leaves_nothing_and_the_import_can_be_retried(
    worker_queue: str, django_db_blocker: Any, tmp_path: Any
) -> None:
    queue = f"test-kill-{uuid.uuid4().hex[:6]}"
    env = processes.process_env(CELERY_QUEUE=queue)
    with django_db_blocker.unblock():
        customer = _customer("kill")
        rows = 40_000
        text = "customer,name,type,parent\n" + "".join(
            f"{customer.slug},ci-{n:05d},server,{f'ci-{n - 1:05d}' if n % 100 else ''}\n" for n in range(rows)
        )
        victim = processes.start_worker(queue, env, tmp_path / "victim.log")
        try:
            app.conf.task_default_queue = queue  # this run goes to the worker about to die
            job = _submit("cis", text)
        finally:
            app.conf.task_default_queue = worker_queue
        try:
            processes.wait_for(lambda: Import.objects.get(pk=job.pk).processed > 0, TIMEOUT)
            running = Import.objects.get(pk=job.pk)
            assert running.status == "running" and 0 < running.processed < rows
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
        finally:
            if victim.poll() is None:
                victim.kill()
        with customer_schema(customer):
            assert not ConfigurationItem.objects.exists()  # the open transaction died with it
        with override_settings(IMPORT_LEASE_SECONDS=LEASE):
            time.sleep(LEASE + 1)
            failed = import_state(Import.objects.get(pk=job.pk))
        assert failed.status == "failed" and "stopped" in failed.failure
        with customer_schema(customer):
            assert not ConfigurationItem.objects.exists()
        with transaction.atomic(), person_context(_admin(), channel="api"):
            import_retry(job=failed, by=_admin())
        done = _finished(failed, timeout=180)
        assert (done.status, done.attempt, done.created, done.refused) == ("done", 2, rows, 0)
        with customer_schema(customer):
            assert ConfigurationItem.objects.count() == rows
