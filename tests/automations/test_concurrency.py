"""Round robin under concurrency: tickets created at once from several connections still take
turns exactly (the rule's pointer is moved under its row lock). Committed rows, on a customer of
its own, as the rules run after each creation commits."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

from django.db import connection

from accounts.services import AgentFields, agent_create
from audit.context import job_context
from automations import services
from people.services import CustomerUserFields, customer_user_create
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tickets import workflows
from tickets.models import Ticket

WRITERS = 3
EACH = 10


def test_round_robin_stays_even_when_tickets_arrive_at_once(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.concurrency"):
        customer = customer_provision(name="Busy", slug=f"busy-{tag}")
        agents = [
            agent_create(
                fields=AgentFields(email=f"rr{n}-{tag}@msp.test", name=f"rr{n}", customers=(customer,)),
                password=None,
            )
            for n in range(3)
        ]
        admin = agent_create(
            fields=AgentFields(email=f"admin-{tag}@msp.test", name="Admin", is_admin=True), password=None
        )
        services.rule_create(
            by=admin,
            customer=customer,
            fields=services.RuleFields(
                name="Share", event="created", actions=[{"action": "assign", "to": "round_robin"}]
            ),
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"user@{tag}.test", name="User"),
                password=None,
            )
        start = threading.Barrier(WRITERS)
        failures: list[BaseException] = []

        def writer() -> None:
            try:
                with django_db_blocker.unblock(), job_context("tests.concurrency"), customer_schema(customer):
                    start.wait()
                    for n in range(EACH):
                        workflows.ticket_create(
                            customer=customer,
                            by=requester.user,
                            new=workflows.NewTicket(subject=f"At once {n}", requester=requester),
                        )
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        with customer_schema(customer):
            assignees = Counter(Ticket.objects.values_list("assignee", flat=True))
    assert assignees == {agent.pk: WRITERS * EACH // len(agents) for agent in agents}
