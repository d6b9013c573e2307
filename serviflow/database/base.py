"""django-tenants' PostgreSQL backend that sets ``search_path`` only when it changes, safely.

django-tenants issues ``SET search_path`` before every statement's cursor: about half of the
round trips of a request. Its own ``TENANT_LIMIT_SET_CALLS`` stays off (django-tenants #1262 and
the related reports): ``SET`` is transactional in PostgreSQL, so a rollback (of a transaction or
to a savepoint) silently restores the path that was in force before, and a connection pool hands
a Django connection a different PostgreSQL session from one request to the next.

This wrapper remembers the path it last set *on the physical psycopg connection* (the session
the path belongs to, not Django's per-thread wrapper) and skips the ``SET`` while the path asked
for is the one remembered. It forgets (so that the next cursor sets the path again):

- after every transaction rollback (``rollback``), every savepoint rollback
  (``savepoint_rollback``), and a failed commit (the server rolled the transaction back);
- when a connection is opened or borrowed from the pool (``get_new_connection``) and when it is
  closed or handed back (``_close``): whatever ran on it in between (the pool rolls back a
  connection returned inside a transaction) is not ours to trust;
- after any statement sent through Django's cursors that can change the path behind our back
  (``SET LOCAL search_path`` as ``tenants.cloning`` uses it, ``set_config``, ``RESET``,
  ``DISCARD``), and after any statement composed with ``psycopg.sql`` (its text is not read).

It also keeps Django's content-type cache across schema switches: django-tenants clears it on
every ``set_tenant`` because content types could differ between schemas, but here
``django.contrib.contenttypes`` is a shared app only (one table, in the public schema), so the
ids are the same whichever schema is active and clearing only costs a query per audited write.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import utils as db_utils
from django.utils.asyncio import async_unsafe
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import get_limit_set_calls

# Statements (as Django's cursor receives them, parameters apart) that may change search_path.
_CHANGES_PATH = re.compile(r"search_path|\breset\b|\bdiscard\b", re.IGNORECASE)

# The path last set on each physical connection (psycopg's Connection), by this process.
_paths: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()


def path_of(raw_connection: Any) -> tuple[str, ...] | None:
    """The search_path remembered for a physical connection (None: the next cursor sets it)."""
    return _paths.get(raw_connection)


def _forget(raw_connection: Any) -> None:
    if raw_connection is not None:
        _paths.pop(raw_connection, None)


def _shared_content_types() -> bool:
    return "django.contrib.contenttypes" not in settings.TENANT_APPS


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if get_limit_set_calls():
            raise ImproperlyConfigured("TENANT_LIMIT_SET_CALLS must stay off: serviflow.database decides")
        self._keep_content_types = _shared_content_types()  # before: __init__ sets the tenant
        super().__init__(*args, **kwargs)
        # First in the chain, for good: ``execute_wrapper()`` blocks append and pop after it.
        self.execute_wrappers.insert(0, self._watch_search_path)

    # --- the path ------------------------------------------------------------------------------

    def _handle_search_path(self, cursor: Any = None) -> None:
        if self._setting_search_path:
            return  # re-entered while getting the cursor for the SET (see django-tenants)
        raw = self.connection
        wanted = tuple(self._get_cursor_search_paths())
        if raw is not None and _paths.get(raw) == wanted:
            return
        # django-tenants' own SET: on the caller's cursor (so that query counts see it), errors
        # of an aborted transaction ignored (the rollback that follows makes us forget anyway).
        super()._handle_search_path(cursor)
        if self.search_path_set_schemas is not None and raw is not None:
            _paths[raw] = wanted

    def _watch_search_path(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        try:
            return execute(sql, params, many, context)
        finally:
            if not isinstance(sql, str) or _CHANGES_PATH.search(sql):
                _forget(self.connection)

    def forget_search_path(self) -> None:
        """The next cursor sets the path again (for code that changed it on the raw connection)."""
        _forget(self.connection)

    # --- when the session's path can no longer be trusted ---------------------------------------

    @async_unsafe
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        raw = super().get_new_connection(conn_params)
        _forget(raw)
        return raw

    def _close(self) -> None:
        _forget(self.connection)
        super()._close()

    @async_unsafe
    def rollback(self) -> None:
        raw = self.connection
        try:
            super().rollback()
        finally:
            _forget(raw)

    @async_unsafe
    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            # After the rollback, not before: its cursor may set the path first (the rollback
            # then undoes that SET too).
            _forget(self.connection)

    @async_unsafe
    def commit(self) -> None:
        raw = self.connection
        try:
            super().commit()
        except db_utils.Error:
            _forget(raw)  # a failed COMMIT rolled the transaction back
            raise

    # --- content types ---------------------------------------------------------------------------

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        if not self._keep_content_types:
            super().set_tenant(tenant, include_public)
            return
        cache = ContentType.objects._cache  # type: ignore[attr-defined]
        kept = dict(cache)
        super().set_tenant(tenant, include_public)  # clears the content-type cache
        for alias, entries in kept.items():
            cache.setdefault(alias, entries)
