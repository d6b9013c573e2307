"""The sweep for real: a Celery worker and beat (SLA_SWEEP_SECONDS=5) over real Redis flag the
breach of a 1-minute target within SLA_SWEEP_SECONDS + 30 s and notify exactly once.

The worker and beat are other processes, so this test works on committed rows of its own (no
rolled-back ``db`` fixture), like tests/test_worker.py. It waits for real time to pass: about
70 seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.services import AgentFields, agent_create
from audit.context import job_context
from notifications.models import Notification
from sla.models import STANDARD_TARGETS, SlaEvent, SlaPolicy
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import ARTIFACTS
from tickets import workflows

pytestmark = pytest.mark.worker
SWEEP_SECONDS = 5


@pytest.fixture
def beat(worker_queue: str, mail_dir: Path, tmp_path: Path) -> Iterator[None]:
    from tests.support import processes

    env = processes.process_env(
        CELERY_QUEUE=worker_queue, EMAIL_URL=f"file://{mail_dir}", SLA_SWEEP_SECONDS=str(SWEEP_SECONDS)
    )
    proc = processes.start_beat(env, ARTIFACTS / "beat.log", tmp_path / "beat-schedule")
    yield
    processes.stop(proc)


def test_worker_and_beat_flag_a_one_minute_breach_once(beat: None, django_db_blocker: object) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.worker"):  # type: ignore[attr-defined]
        policy = SlaPolicy.objects.create(
            name=f"One minute {tag}",
            targets={**STANDARD_TARGETS, "P1": {"first_response": 1, "resolution": 30}},
        )
        customer = customer_provision(name=f"Sweep {tag}", slug=f"sweep-{tag}", default_sla=policy)
        admin = agent_create(
            fields=AgentFields(email=f"admin-{tag}@msp.test", name="Sweep Admin", is_admin=True),
            password="a long test password 1",
        )
        with customer_schema(customer):
            ticket = workflows.ticket_create(
                customer=customer,
                by=admin,
                new=workflows.NewTicket(subject="Mail server down", priority="P1"),
            )
        created = ticket.created_at
        assert ticket.first_response_due == created + timedelta(minutes=1)

    def breaches() -> list[Notification]:
        with django_db_blocker.unblock():  # type: ignore[attr-defined]
            return list(Notification.objects.filter(user=admin, customer=customer, kind="sla_breach"))

    deadline = created + timedelta(minutes=1, seconds=SWEEP_SECONDS + 30)
    while not breaches() and timezone.now() < deadline:
        time.sleep(1)
    found = breaches()
    assert len(found) == 1, f"no breach notification by {deadline.isoformat()}"
    assert found[0].created_at <= deadline
    assert "SLA breached (first response)" in found[0].title
    time.sleep(2 * SWEEP_SECONDS + 1)  # two more sweeps: nothing is sent again
    assert len(breaches()) == 1
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        events = SlaEvent.objects.filter(customer=customer, ticket_id=ticket.pk)
        assert sorted(events.values_list("clock", "kind")) == [
            ("first_response", "breach"),
            ("first_response", "warning"),
        ]
        assert Notification.objects.filter(user=admin, customer=customer, kind="sla_warning").count() == 1
        assert not events.filter(notified_at__isnull=True).exists()
