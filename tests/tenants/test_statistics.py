"""The planner's statistics for the small shared tables (``core.statistics``): the services that
change customers or an agent's memberships ANALYZE those tables once they have committed, since
autovacuum never analyzes a table of a few dozen rows (the unified queue's plan depends on it:
``tests/tickets/test_queue_plans.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import memberships_set
from tenants.services import customer_archive, customer_provision, customer_restore
from tests.conftest import Cast

Capture = Callable[..., Any]


def analyzed(run: Callable[[], object], capture: Capture) -> list[str]:
    """The calls of the owner's ANALYZE function (``tenants.roles``) that ``run`` made."""
    with CaptureQueriesContext(connection) as captured, capture(execute=True):
        run()
    return [query["sql"] for query in captured if "serviflow_analyze" in query["sql"]]


def _call(*tables: str) -> str:
    """The call as captured: the table names as a PostgreSQL array literal."""
    return "SELECT public.serviflow_analyze('{" + ",".join(tables) + "}')"


def test_provisioning_archiving_and_restoring_a_customer_analyze_its_tables(
    cast: Cast, actor: None, django_capture_on_commit_callbacks: Capture
) -> None:
    made: list[Any] = []
    assert analyzed(
        lambda: made.append(customer_provision(name="Stats", slug="stats")),
        django_capture_on_commit_callbacks,
    ) == [_call("tenants_customer", "tenants_customersettings")]
    assert analyzed(lambda: customer_archive(customer=made[0]), django_capture_on_commit_callbacks) == [
        _call("tenants_customer")
    ]
    assert analyzed(lambda: customer_restore(customer=made[0]), django_capture_on_commit_callbacks) == [
        _call("tenants_customer")
    ]
    # nothing changed, nothing to analyze
    assert analyzed(lambda: customer_restore(customer=made[0]), django_capture_on_commit_callbacks) == []


def test_changing_an_agents_memberships_analyzes_the_membership_table(
    cast: Cast, actor: None, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    assert analyzed(lambda: memberships_set(agent=cast.bob, customers=[cast.acme, cast.globex]), capture) == [
        _call("accounts_agentmembership")
    ]
    same = list(cast.bob.memberships.values_list("customer", flat=True))
    assert len(same) == 2
    assert (
        analyzed(lambda: memberships_set(agent=cast.bob, customers=[cast.acme, cast.globex]), capture) == []
    )
