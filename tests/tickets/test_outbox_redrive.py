"""The outbox re-drive (tickets.outbox) shares its runs among customers and stands back while
the worker's queue is long."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.utils import timezone

from audit.context import job_context
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import Cast
from tickets import outbox, workflows
from tickets.models import TicketEvent


def _stuck(customer: Customer, by: Any, count: int) -> None:
    """Events whose enqueue never happened (a test's on-commit callbacks do not run)."""
    with job_context("tests"), customer_schema(customer):
        for n in range(count):
            workflows.ticket_create(customer=customer, by=by, new=workflows.NewTicket(subject=f"Stuck {n}"))


def _redriven(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The customers each run re-drove events of, in order."""
    found = [record.getMessage().split()[4] for record in caplog.records if "re-driven" in record.msg]
    caplog.clear()
    return found


def test_runs_rotate_so_one_customer_cannot_take_every_run(
    cast: Cast, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(outbox, "PER_RUN", 1)
    caches["platform"].delete(outbox.REACHED_KEY)
    # Customers other tests committed may have events of their own waiting: notified for this
    # test only (its transaction is rolled back), so the runs see just Acme's and Globex's.
    for other in Customer.objects.active().exclude(pk__in=[cast.acme.pk, cast.globex.pk]):
        with customer_schema(other):
            TicketEvent.objects.filter(notified_at__isnull=True).update(notified_at=timezone.now())
    _stuck(cast.acme, cast.acme_user, 3)  # more than a run takes
    _stuck(cast.globex, cast.globex_user, 1)
    later = timezone.now() + timedelta(hours=1)
    first, second = sorted([cast.acme, cast.globex], key=lambda customer: customer.pk)
    caplog.set_level(logging.WARNING, logger="tickets.outbox")
    runs = []
    for _ in range(3):
        assert outbox.events_redrive(now=later) == 1
        runs += _redriven(caplog)
    assert runs == [first.slug, second.slug, first.slug]


def test_a_run_is_skipped_while_the_queue_is_long(cast: Cast, settings: Any) -> None:
    settings.CELERY_TASK_DEFAULT_QUEUE = f"tests-backlog-{uuid.uuid4().hex}"
    _stuck(cast.acme, cast.acme_user, 1)
    later = timezone.now() + timedelta(hours=1)
    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as broker:
        broker.rpush(settings.CELERY_TASK_DEFAULT_QUEUE, *["queued"] * (outbox.QUEUE_BACKLOG + 1))
        try:
            assert outbox.events_redrive(now=later) == 0
            broker.ltrim(settings.CELERY_TASK_DEFAULT_QUEUE, 0, outbox.QUEUE_BACKLOG - 1)
            assert outbox.events_redrive(now=later) >= 1
        finally:
            broker.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
