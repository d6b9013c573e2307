"""Every ordering the queue offers reads an index in its order: EXPLAIN of the real query (as
the API runs it, captured) over a table of thousands of rows shows an index scan and no Sort of
the whole table, with and without the default status filter."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import Cast, api_for
from tickets.index.models import TicketIndexEntry
from tickets.index.queue import ORDERINGS

ROWS = 4000


@pytest.fixture
def big_index(cast: Cast) -> None:
    now = timezone.now()
    TicketIndexEntry.objects.bulk_create(
        TicketIndexEntry(
            customer=cast.acme if n % 2 else cast.globex,
            ticket_id=1_000_000 + n,
            number=f"PLAN-{n}",
            subject=f"plan {n}",
            status=("open", "pending", "resolved", "closed")[n % 4],
            priority=f"P{n % 4 + 1}",
            requester_name="someone",
            created_at=now - timedelta(minutes=n),
            updated_at=now - timedelta(minutes=n % 977),
            resolution_due=now + timedelta(minutes=n % 1013),
            due_sort=now + timedelta(minutes=n % 1013),
            sla_due=now + timedelta(minutes=n % 1019),
            next_due_sort=now + timedelta(minutes=n % 1019),
        )
        for n in range(ROWS)
    )
    with connection.cursor() as cursor:
        # statistics as they are kept: autovacuum's for the big table, and for the customers the
        # services' own ANALYZE (core.statistics); the test database has never been analysed
        cursor.execute("ANALYZE ticket_index, tenants_customer, accounts_user")


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


def queue_plan(cast: Cast, query: str) -> list[dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        assert api_for(cast.alice).get(f"/api/v1/tickets/?{query}").status_code == 200
    sql = next(
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "ticket_index"' in q["sql"] and "ORDER BY" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return nodes(plan[0]["Plan"])


@pytest.mark.parametrize("status", ["", "&status=open,pending"])
@pytest.mark.parametrize("ordering", list(ORDERINGS))
def test_each_ordering_reads_an_index_without_sorting(
    cast: Cast, big_index: None, ordering: str, status: str
) -> None:
    plan = queue_plan(cast, f"ordering={ordering}{status}")
    kinds = [node["Node Type"] for node in plan]
    assert "Sort" not in kinds and "Incremental Sort" not in kinds, kinds
    scans = [node for node in plan if node.get("Relation Name") == "ticket_index"]
    assert scans and all(node["Node Type"] in ("Index Scan", "Index Only Scan") for node in scans), [
        (node["Node Type"], node.get("Index Name")) for node in scans
    ]
