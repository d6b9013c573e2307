"""The time rules' beat task, run by a real Celery worker over real Redis against the test
database: it fires a rule once, however often it runs. Committed rows (the worker is another
process), on a customer of its own."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.services import AgentFields, agent_create
from audit.context import job_context
from automations import services
from automations.models import TimeFiring
from automations.tasks import time_rules
from people.services import CustomerUserFields, customer_user_create
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tickets import workflows
from tickets.models import Comment, Status, Ticket

pytestmark = pytest.mark.worker
TIMEOUT = 60


def test_the_worker_fires_a_time_rule_once(worker_queue: str, django_db_blocker: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.worker"):
        customer = customer_provision(name="Timed", slug=f"timed-{tag}")
        agent = agent_create(
            fields=AgentFields(email=f"agent-{tag}@msp.test", name="Agent", customers=(customer,)),
            password=None,
        )
        admin = agent_create(
            fields=AgentFields(email=f"admin-{tag}@msp.test", name="Admin", is_admin=True), password=None
        )
        services.rule_create(
            by=admin,
            customer=customer,
            fields=services.RuleFields(
                name="Chase",
                event="time",
                wait={"status": "pending", "for": 2, "unit": "hours"},
                actions=[{"action": "note", "body": f"Still waiting ({tag})."}],
            ),
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"user@{tag}.test", name="User"),
                password=None,
            )
            ticket = workflows.ticket_create(
                customer=customer, by=agent, new=workflows.NewTicket(subject="Printer", requester=requester)
            )
            workflows.comment_add(
                customer=customer, ticket=ticket, by=agent, body="Which one?", then_status=Status.PENDING
            )
            ticket.refresh_from_db()
            # Pending since three hours ago (the stretch starts where the timeline's segment does).
            segments = ticket.sla_segments
            segments[-1]["start"] = (timezone.now() - timedelta(hours=3)).isoformat()
            Ticket.objects.filter(pk=ticket.pk).update(sla_segments=segments)

        assert time_rules.delay().get(timeout=TIMEOUT)["fired"] == 1
        assert time_rules.delay().get(timeout=TIMEOUT)["fired"] == 0
        assert TimeFiring.objects.filter(customer=customer, ticket_id=ticket.pk).count() == 1
        with customer_schema(customer):
            notes = Comment.objects.filter(ticket=ticket, body=f"Still waiting ({tag}).")
            assert [note.author_job for note in notes] == ["automation:Chase"]
