"""Fifty first requests of one occasional agent at the same moment, each on its own thread and
database connection against real PostgreSQL: exactly one pass is consumed.

The rows are committed (other connections must see them), so the test buys exactly the pass it
consumes: the pool ends where it started, and the agent is deactivated afterwards.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Licence
from accounts.services import AgentFields, agent_create, person_deactivate, token_issue
from audit.context import job_context
from billing.models import DayPassConsumption
from billing.services import day_passes_buy, pool
from tenants.models import Customer

REQUESTS = 50


def test_fifty_concurrent_first_requests_consume_exactly_one_pass(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock(), job_context("tests.concurrency"):
        admin = agent_create(
            fields=AgentFields(email=f"buyer-{uuid.uuid4().hex[:6]}@msp.test", name="Buyer", is_admin=True),
            password=None,
        )
        agent = agent_create(
            fields=AgentFields(
                email=f"ron-{uuid.uuid4().hex[:6]}@msp.test",
                name="Ron",
                licence=Licence.OCCASIONAL,
                timezone="America/Los_Angeles",
                customers=tuple(Customer.objects.customers().filter(slug="acme")),
            ),
            password=None,
        )
        _, raw = token_issue(user=agent, name="script")
        day_passes_buy(by=admin, quantity=1)
        start = pool().balance
        barrier = threading.Barrier(REQUESTS)
        results: list[tuple[int, str | None]] = []
        lock = threading.Lock()

        def first_request() -> None:
            client = APIClient(HTTP_HOST="localhost")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            try:
                barrier.wait(timeout=30)
                response = client.get("/api/v1/me/")
                with lock:
                    results.append((response.status_code, response.get("X-Day-Pass")))
            finally:
                connection.close()  # this thread's own connection

        threads = [threading.Thread(target=first_request) for _ in range(REQUESTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        try:
            assert len(results) == REQUESTS
            assert [status for status, _ in results] == [200] * REQUESTS
            assert [header for _, header in results].count("consumed") == 1
            assert DayPassConsumption.objects.filter(agent=agent).count() == 1
            assert pool().balance == start - 1
        finally:
            person_deactivate(user=agent)
            person_deactivate(user=admin)
