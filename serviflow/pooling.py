"""Django's psycopg connection pool, as every ServiFlow process uses it (settings.DATABASES).

- Schemas: a connection goes back to the pool with the ``search_path`` of its last request's
  customer still set in the session, and a Django connection object may get a different
  PostgreSQL session from the pool on each request. ServiFlow's backend
  (``serviflow.database``) sets the path only when it differs from the one it last set on that
  physical session, and it forgets that whenever a session is borrowed from or handed back to
  the pool (the pool rolls back a session returned inside a transaction, and a rollback undoes
  a ``SET``), after every rollback and savepoint rollback, and after statements that change the
  path themselves. So the first statement of each request sets the path once, and a request
  never runs on the previous request's schema. No pool ``reset`` callback on top: psycopg_pool
  runs it in a background task that is silently dropped when the pool closes first, leaking that
  connection, and Celery's prefork worker closes the pool right after handing the connection
  back, after every task. tests/test_connections.py checks a request after another customer's
  on the same connection, tests/test_search_path.py the backend's cases.
- Fork: a forked child (django-tenants' multiprocessing migrations, Celery's prefork pool)
  inherits the parent's pool object but not its threads, and the idle connections in it are the
  parent's sockets. ``forget_pools_after_fork`` makes every child drop it and build its own;
  psycopg never closes a connection in a process that did not open it, so the parent's stay
  intact.
- ``is_refusal`` tells "the database will not serve us right now" (no connection free in the
  pool, server down or restarting, too many clients) from errors of a query, for the 503 answer
  (serviflow.unavailable).

Settings import this module: nothing here may read settings at import time.
"""

from __future__ import annotations

import os
import sys

import psycopg
from django.db import utils as db_utils

# SQLSTATEs that mean the server is refusing or dropping clients rather than failing a query:
# class 08 (connection exception), class 53 (insufficient resources, e.g. 53300 too many
# connections), and the server shutting down or starting up.
_REFUSING_CLASSES = {"08", "53"}
_REFUSING_STATES = {"57P01", "57P02", "57P03"}


def is_refusal(exc: BaseException | None) -> bool:
    """True for an OperationalError that means the database cannot be reached or takes no more
    clients (psycopg_pool's PoolTimeout included), also when Django wrapped it. Deadlocks, lock
    and statement timeouts are not refusals: they stay errors."""
    while isinstance(exc, db_utils.OperationalError):
        exc = exc.__cause__  # Django raises its own class from psycopg's
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    # No SQLSTATE: the client side gave up (connection refused or lost, the pool's timeout).
    return state is None or state[:2] in _REFUSING_CLASSES or state in _REFUSING_STATES


def _forget_inherited_pools() -> None:
    backend = sys.modules.get("django.db.backends.postgresql.base")
    if backend is not None:
        backend.DatabaseWrapper._connection_pools.clear()


_fork_hook_installed = False


def forget_pools_after_fork() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_forget_inherited_pools)
        _fork_hook_installed = True
