"""Each worker task, run by a real Celery worker over real Redis against the test database.

These tests need committed rows (the worker is another process), so they do not use the
rolled-back ``db`` fixture; each works on customers and people of its own.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.services import AgentFields, agent_create
from accounts.tasks import send_activation_email, sessions_clear_expired
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from people.tasks import send_invitation
from tenants.schema import customer_schema, tenant_connection
from tenants.services import customer_provision

pytestmark = pytest.mark.worker
TIMEOUT = 60


def _mails(mail_dir: Path) -> str:
    return "\n".join(path.read_text() for path in mail_dir.glob("*.log"))


def test_tenant_task_runs_inside_the_customer_it_was_enqueued_in(worker_queue, mail_dir, django_db_blocker):
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.worker"):
        first = customer_provision(name="Wa", slug=f"wa-{tag}")
        second = customer_provision(name="Wb", slug=f"wb-{tag}")
        profiles = {}
        for customer in (first, second):
            with customer_schema(customer):
                profiles[customer.slug] = customer_user_create(
                    customer=customer,
                    fields=CustomerUserFields(email=f"new@{customer.slug}.test", name="New"),
                    password=None,
                )
        # Same profile id in both customers: only the schema tells them apart.
        assert profiles[first.slug].pk == profiles[second.slug].pk
        profile_id = profiles[first.slug].pk
        with customer_schema(second):
            result = send_invitation.delay(profile_id)
        assert tenant_connection.schema_name == "public"
    assert result.get(timeout=TIMEOUT) == f"new@{second.slug}.test"
    mails = _mails(mail_dir)
    assert f"http://{second.slug}.localhost" in mails
    # The next task on the same (solo) worker starts in public: the public job finds its table.
    with django_db_blocker.unblock():
        assert isinstance(sessions_clear_expired.delay().get(timeout=TIMEOUT), int)


def test_tenant_tasks_refuse_to_be_enqueued_from_public(worker_queue) -> None:
    with pytest.raises(RuntimeError, match="inside a customer"):
        send_invitation.delay(1)


def test_activation_email_for_a_new_agent(worker_queue, mail_dir, django_db_blocker) -> None:
    email = f"agent-{uuid.uuid4().hex[:6]}@msp.test"
    with django_db_blocker.unblock(), job_context("tests.worker"):
        agent = agent_create(fields=AgentFields(email=email, name="New Agent"), password=None)
        assert send_activation_email.delay(agent.pk).get(timeout=TIMEOUT) is True
    mails = _mails(mail_dir)
    assert email in mails and "http://localhost" in mails and "/activate/" in mails


def test_expired_sessions_are_cleared(worker_queue, django_db_blocker) -> None:
    key = uuid.uuid4().hex
    with django_db_blocker.unblock():
        Session.objects.create(
            session_key=key, session_data="", expire_date=timezone.now() - timedelta(days=1)
        )
        assert sessions_clear_expired.delay().get(timeout=TIMEOUT) >= 1
        assert not Session.objects.filter(session_key=key).exists()
