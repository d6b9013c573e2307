"""``SET search_path`` only when the path changes (serviflow/database/base.py), and never a stale
path: the cases where PostgreSQL or the pool change a session's path behind the backend's back.

PostgreSQL's ``SET`` is transactional: a rollback, to a savepoint or of the whole transaction,
restores the path that was in force before it (django-tenants #1262). Each test shows the
session's real path (read on the raw psycopg connection, past the backend) next to what the ORM
sees, so that the hazard is visible and the backend is seen to set the path again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DataError, connection, connections, transaction
from django.db.utils import load_backend
from django.test.utils import CaptureQueriesContext

from audit.context import job_context
from people.models import CustomerUser
from people.services import CustomerUserFields, customer_user_create
from people.tasks import send_invitation
from serviflow.database import base as database
from tenants.models import Customer
from tenants.schema import customer_schema, public_schema_restore, tenant_connection
from tenants.services import customer_provision
from tests.conftest import Cast

ACME = {"admin@acme.test", "user@acme.test", "user2@acme.test", "it@acme.test"}
GLOBEX = {"admin@globex.test", "user@globex.test"}


def emails(using: Any = connection) -> set[str]:
    """The customer users of the active schema, through the ORM (and so through the backend)."""
    return set(CustomerUser.objects.using(using.alias).values_list("user__email", flat=True))


def session_path(wrapper: Any = connection) -> str:
    """The path the PostgreSQL session really has, read past the backend."""
    row = wrapper.connection.execute("SHOW search_path").fetchone()
    return str(row[0]).replace(" ", "").replace('"', "")


def sets(queries: CaptureQueriesContext) -> int:
    return sum(query["sql"].startswith("SET search_path") for query in queries.captured_queries)


def test_the_engine_is_the_wrapper() -> None:
    assert connection.settings_dict["ENGINE"] == "serviflow.database"
    assert isinstance(connections["default"], database.DatabaseWrapper)


def test_the_path_is_set_once_while_it_does_not_change(cast: Cast) -> None:
    with customer_schema(cast.acme), CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert emails() == ACME
    assert sets(queries) <= 1  # none when the previous statement already ran in Acme
    with customer_schema(cast.globex), CaptureQueriesContext(connection) as queries:
        assert emails() == GLOBEX
        assert emails() == GLOBEX
    assert sets(queries) == 1


def test_a_savepoint_rollback_between_two_customers(cast: Cast) -> None:
    """Set A, savepoint, switch to B, roll the savepoint back: the session is back on A, and the
    next query must still see B; then back to A."""
    with customer_schema(cast.acme):
        assert emails() == ACME
        assert session_path() == "c_acme,public"
        sid = transaction.savepoint()
        with customer_schema(cast.globex):
            assert emails() == GLOBEX
            assert session_path() == "c_globex,public"
            transaction.savepoint_rollback(sid)
            assert session_path() == "c_acme,public"  # PostgreSQL undid the SET (#1262)
            with CaptureQueriesContext(connection) as queries:
                assert emails() == GLOBEX
            assert sets(queries) == 1
        assert emails() == ACME
        assert session_path() == "c_acme,public"


def test_a_savepoint_rollback_of_an_atomic_block_that_failed(cast: Cast) -> None:
    """What the workflows do: an atomic block (a savepoint inside the test's transaction) that
    switches customer, queries and fails, leaving the connection on that customer."""
    with customer_schema(cast.acme):
        assert emails() == ACME
        try:
            with pytest.raises(RuntimeError), transaction.atomic():
                tenant_connection.set_tenant(cast.globex)
                assert emails() == GLOBEX
                raise RuntimeError("refused")
            # Rolled back to the savepoint, which restored Acme's path in the session (and the
            # RELEASE that follows it set Globex's again): the connection is on Globex.
            assert emails() == GLOBEX
        finally:
            tenant_connection.set_tenant(cast.acme)
        assert emails() == ACME


def test_a_transaction_rollback_restores_the_old_path_and_the_backend_sets_it_again(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    """Outside the tests' own transaction: A is set in autocommit; a transaction switches to B
    and is rolled back, taking its SET with it; B must still be what the next query sees."""
    acme_schema, globex_schema = "c_acme", "c_globex"
    with django_db_blocker.unblock():
        acme = Customer.objects.get(schema_name=acme_schema)
        globex = Customer.objects.get(schema_name=globex_schema)
        try:
            tenant_connection.set_tenant(acme)
            assert emails() == ACME
            with pytest.raises(RuntimeError), transaction.atomic():
                tenant_connection.set_tenant(globex)
                assert emails() == GLOBEX
                raise RuntimeError("rolled back")
            assert session_path() == "c_acme,public"  # the rollback restored Acme's path
            with CaptureQueriesContext(connection) as queries:
                assert emails() == GLOBEX
            assert sets(queries) == 1
            # A statement that fails inside the transaction: the rollback takes the SET too.
            tenant_connection.set_tenant(acme)
            assert emails() == ACME
            with pytest.raises(DataError), transaction.atomic():
                tenant_connection.set_tenant(globex)
                assert emails() == GLOBEX
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1/0")
            assert emails() == GLOBEX
            tenant_connection.set_tenant(acme)
            assert emails() == ACME
        finally:
            public_schema_restore()


def test_set_local_search_path_is_noticed(cast: Cast) -> None:
    """A statement that changes the path itself (as tenants.cloning's SET LOCAL does) makes the
    backend set it again before the next query."""
    with customer_schema(cast.acme):
        assert emails() == ACME
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL search_path TO c_globex, public")
        assert emails() == ACME
        assert session_path() == "c_acme,public"


@pytest.fixture
def one_connection_pool(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Any, Any]]:
    """Two Django connection objects (as two threads or two requests have) sharing a pool of
    exactly one PostgreSQL session."""
    settings_dict = {**connections["default"].settings_dict}
    settings_dict["OPTIONS"] = {
        **settings_dict["OPTIONS"],
        "pool": {"min_size": 1, "max_size": 1, "timeout": 10.0},
    }
    alias = f"pool_probe_{uuid.uuid4().hex[:6]}"
    backend = load_backend(settings_dict["ENGINE"])
    first = backend.DatabaseWrapper(settings_dict, alias=alias)
    second = backend.DatabaseWrapper(settings_dict, alias=alias)
    with django_db_blocker.unblock():
        try:
            yield first, second
        finally:
            first.close()
            second.close()
            first.close_pool()


def _emails_on(wrapper: Any) -> set[str]:
    with wrapper.cursor() as cursor:
        cursor.execute(
            "SELECT u.email FROM people_customeruser AS p JOIN accounts_user AS u ON u.id = p.user_id"
        )
        return {row[0] for row in cursor.fetchall()}


def test_pooled_connections_handed_between_requests_of_two_customers(
    one_connection_pool: tuple[Any, Any],
) -> None:
    first, second = one_connection_pool
    acme = Customer.objects.get(schema_name="c_acme")
    globex = Customer.objects.get(schema_name="c_globex")
    first.set_tenant(acme)
    second.set_tenant(globex)

    assert _emails_on(first) == ACME
    session = first.connection
    first.close()  # the request ends: the session goes back to the pool, on Acme's path

    with CaptureQueriesContext(second) as queries:
        assert _emails_on(second) == GLOBEX
    assert second.connection is session and sets(queries) == 1
    second.close()

    # Something else borrows the session and changes its path (the pool rolls back a session
    # returned inside a transaction the same way): nothing the backend remembers is trusted.
    raw = first.pool.getconn()
    assert raw is session and session_path_of(raw) == "c_globex,public"
    raw.execute("SET search_path TO public")
    raw.commit()
    first.pool.putconn(raw)

    with CaptureQueriesContext(second) as queries:  # the last to set it had set Globex's
        assert _emails_on(second) == GLOBEX
        assert _emails_on(second) == GLOBEX
    assert second.connection is session and sets(queries) == 1
    second.close()
    with CaptureQueriesContext(first) as queries:
        assert _emails_on(first) == ACME
    assert first.connection is session and sets(queries) == 1


def session_path_of(raw: Any) -> str:
    row = raw.execute("SHOW search_path").fetchone()
    return str(row[0]).replace(" ", "").replace('"', "")


@pytest.mark.worker
def test_celery_tasks_of_two_customers_in_turn(worker_queue: str, django_db_blocker: Any) -> None:
    """One worker runs tasks of two customers in turn (the same profile id in both), then a
    public one: each sees its own schema."""
    from accounts.tasks import sessions_clear_expired

    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.search_path"):
        customers = [customer_provision(name=f"P{n}", slug=f"sp{n}-{tag}") for n in (1, 2)]
        ids = set()
        for customer in customers:
            with customer_schema(customer):
                fields = CustomerUserFields(email=f"new@{customer.slug}.test", name="New")
                ids.add(customer_user_create(customer=customer, fields=fields, password=None).pk)
        (profile_id,) = ids
        results = []
        for customer in customers * 3:
            with customer_schema(customer):
                results.append(send_invitation.delay(profile_id))
        assert [result.get(timeout=60) for result in results] == [
            f"new@{customer.slug}.test" for customer in customers * 3
        ]
        assert isinstance(sessions_clear_expired.delay().get(timeout=60), int)
