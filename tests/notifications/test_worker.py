"""Exactly once with a real worker: the same ticket event run three times (once after commit,
twice more enqueued by hand) by a real Celery worker over real Redis sends each recipient one
email and one in-app notification.

The worker is another process, so this test works on committed rows of its own (no rolled-back
``db`` fixture), like tests/test_worker.py; mail goes to the worker's file backend."""

from __future__ import annotations

import email
import uuid
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from accounts.services import AgentFields, agent_create
from accounts.tasks import sessions_clear_expired
from audit.context import job_context
from notifications.models import Notification
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import PASSWORD
from tests.support.processes import wait_for
from tickets import workflows
from tickets.models import TicketEvent
from tickets.tasks import notify_event

pytestmark = pytest.mark.worker
TIMEOUT = 60


def sent_to(mail_dir: Path, address: str, subject: str) -> int:
    """How many emails the worker wrote to ``address`` whose subject holds ``subject``."""
    count = 0
    for path in mail_dir.glob("*.log"):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.strip())
            if message["To"] == address and subject in str(message["Subject"]):
                count += 1
    return count


def committed_desk(name: str, tag: str) -> tuple[Customer, User, User]:
    """A customer ``<name>-<tag>`` with a requester and a member agent, committed (for tests
    whose worker or server is another process): (customer, requester, agent)."""
    with job_context("tests.worker"):
        customer = customer_provision(name=f"{name} {tag}", slug=f"{name}-{tag}")
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"req-{tag}@{name}.test", name="Req"),
                password=PASSWORD,
            ).user
        agent = agent_create(
            fields=AgentFields(email=f"agent-{tag}@msp.test", name="Member", customers=(customer,)),
            password=PASSWORD,
        )
    return customer, requester, agent


def test_each_notification_is_sent_once_when_the_worker_runs_an_event_again(
    worker_queue: str, mail_dir: Path, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock():
        customer, requester, agent = committed_desk("once", tag)
        with job_context("tests.worker"), customer_schema(customer):
            ticket = workflows.ticket_create(
                customer=customer, by=requester, new=workflows.NewTicket(subject=f"Once {tag}")
            )
            (event,) = TicketEvent.objects.filter(ticket=ticket)
            # the same event twice more, behind the run enqueued after commit
            notify_event.delay(event.pk)
            notify_event.delay(event.pk)
        # the worker is solo: a task enqueued after them finishes after them
        assert isinstance(sessions_clear_expired.delay().get(timeout=TIMEOUT), int)
        wait_for(lambda: Notification.objects.filter(customer=customer).count() == 2)
        for person in (requester, agent):
            assert Notification.objects.filter(user=person, customer=customer).count() == 1
            assert Notification.objects.get(user=person, customer=customer).emailed_at is not None
    # the requester's receipt and the member agent's "new unassigned ticket", once each
    assert sent_to(mail_dir, requester.email, f"Once {tag}") == 1
    assert sent_to(mail_dir, agent.email, f"Once {tag}") == 1
