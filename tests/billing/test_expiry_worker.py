"""The expiry job in a real Celery worker: it records a pass that ended, once, under its name."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Licence
from accounts.services import AgentFields, agent_create, person_deactivate
from audit.context import job_context
from audit.models import AuditEntry
from billing.models import DayPassExpiry
from billing.services import day_pass_consume, day_passes_buy
from billing.tasks import expire_day_passes

pytestmark = pytest.mark.worker
TIMEOUT = 60


def test_the_worker_closes_passes_at_their_instant(worker_queue: str, django_db_blocker: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.worker"):
        admin = agent_create(
            fields=AgentFields(email=f"buyer-{tag}@msp.test", name="Buyer", is_admin=True), password=None
        )
        agent = agent_create(
            fields=AgentFields(email=f"occ-{tag}@msp.test", name="Occasional", licence=Licence.OCCASIONAL),
            password=None,
        )
        day_passes_buy(by=admin, quantity=1)  # the pass it uses: the pool ends where it started
        use = day_pass_consume(user=agent, channel="api", now=timezone.now() - timedelta(days=2))
        assert use.consumption is not None and use.valid_until < timezone.now()
    try:
        recorded = expire_day_passes.delay().get(timeout=TIMEOUT)
        assert recorded >= 1
        assert expire_day_passes.delay().get(timeout=TIMEOUT) == 0  # idempotent
        with django_db_blocker.unblock():
            expiry = DayPassExpiry.objects.get(consumption=use.consumption)
            assert expiry.expired_at == use.valid_until
            entry = AuditEntry.objects.get(content_type__model="daypassexpiry", object_pk=str(expiry.pk))
            assert entry.job == "billing.expire_day_passes" and entry.actor_id is None
    finally:
        with django_db_blocker.unblock(), job_context("tests.worker"):
            person_deactivate(user=agent)
            person_deactivate(user=admin)
