"""Reads of reports and exports from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``).

The heavy read-only work (the monthly figures, the service report, the CSV and JSON exports)
may run on a hot standby so that it never competes with the desk's own queries. It does so only
inside an explicit ``replica_reads()`` block, and even there only while:

- the block is not inside a transaction of the primary (a read that a write of the same
  transaction depends on must see that transaction: ``report_issue``'s version number, the
  rows it locks, whatever it wrote itself);
- the replica answers and is in recovery (a promoted or misconfigured server is not a replica);
- it has replayed everything the primary had written when asked, or the last transaction it
  replayed is at most ``REPLICA_MAX_LAG_SECONDS`` old. An idle primary writes nothing, so a
  replica that has caught up is never "lagging", however old its last transaction; a replica
  that is behind counts its lag from the last transaction it replayed (an overestimate when the
  primary had been idle, which only sends a read to the primary). The verdict is kept for
  ``REPLICA_CHECK_SECONDS`` per process (``UNREACHABLE_RECHECK_SECONDS`` for one that did not answer).

Otherwise the block reads from the primary, as everything outside such blocks always does: a
ticket page, the queue and the API never read the replica. Every write goes to the primary.

Inside the block the replica's connection follows the schema of the default connection
(``tenants.schema.customer_schema`` switches that one), so a query reads the same customer's
tables on whichever server it runs. Raw SQL takes its connection from ``reading_connection()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

REPLICA = "replica"

_reading: ContextVar[bool] = ContextVar("replica_reads", default=False)
_lock = threading.Lock()
_verdict: tuple[bool, float] | None = None  # (usable, when to check again: time.monotonic())
# How long a replica that did not answer is left alone (a lagging one: REPLICA_CHECK_SECONDS).
UNREACHABLE_RECHECK_SECONDS = 30


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads inside the block may go to the replica (see the module's conditions)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside the block go to the primary, even inside a ``replica_reads()`` block: for
    what is kept for good (an issued report's figures), where a lagging replica will not do."""
    token = _reading.set(False)
    try:
        yield
    finally:
        _reading.reset(token)


def reading_alias() -> str:
    """The database the next read goes to: the replica, on the default connection's schema, or
    the primary (``default``)."""
    if not _reading.get() or REPLICA not in settings.DATABASES:
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block or not replica_usable():
        return DEFAULT_DB_ALIAS
    primary: Any = connections[DEFAULT_DB_ALIAS]
    replica: Any = connections[REPLICA]
    if (replica.schema_name, replica.include_public_schema) != (
        primary.schema_name,
        primary.include_public_schema,
    ):
        replica.set_tenant(primary.tenant, primary.include_public_schema)
    return REPLICA


def reading_connection() -> BaseDatabaseWrapper:
    """The connection for a raw read (``cursor()``), chosen as the ORM's reads are."""
    return connections[reading_alias()]


def replica_usable() -> bool:
    global _verdict
    now = time.monotonic()
    with _lock:
        if _verdict is not None and now < _verdict[1]:
            return _verdict[0]
    usable, recheck = _check()
    with _lock:
        _verdict = (usable, now + recheck)
    return usable


def _check() -> tuple[bool, int]:
    """Whether the replica is usable, and for how many seconds that verdict holds."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (written,) = cursor.fetchone()
    replica = connections[REPLICA]
    try:
        with replica.cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn,"
                " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float",
                [written],
            )
            in_recovery, caught_up, behind = cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("the replica is not used: %s", exc)
        replica.close()  # a broken session is not handed back to the pool
        # Each try costs this process up to the connect timeout (or DB_POOL_TIMEOUT waiting on
        # the replica's pool), so one that did not answer is tried less often than a lagging one.
        return False, max(settings.REPLICA_CHECK_SECONDS, UNREACHABLE_RECHECK_SECONDS)
    recheck = settings.REPLICA_CHECK_SECONDS
    if not in_recovery:
        logger.warning("the replica is not used: DATABASE_REPLICA_URL names a server not in recovery")
        return False, recheck
    if caught_up:
        return True, recheck
    lagging = behind is None or behind > settings.REPLICA_MAX_LAG_SECONDS
    if lagging:
        logger.info("the replica is not used: %s s behind", "?" if behind is None else round(behind, 1))
    return not lagging, recheck


class ReplicaRouter:
    """Listed before django-tenants' router (which decides migrations, on ``default`` only).
    Every answer is explicit, so Django never falls back to the database an instance was read
    from: an object read from the replica is saved to, and its relations read from, the
    primary outside the block."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return reading_alias()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the primary's very rows
