"""Planner statistics for the small shared tables that every list joins.

Autovacuum analyzes a table once 50 rows plus a tenth of it have changed, so a desk with a few
dozen customers never gets statistics for ``tenants_customer`` at all. The planner then guesses
(tens of rows per page, a fraction of them visible) and reads the unified queue the wrong way
round: every visible ticket fetched and sorted, instead of the first page read off the
due-ordered index (22 ms against 0.5 ms at 10,000 tickets in one customer). The services that
change such a table ask for a fresh ``ANALYZE`` once their transaction has committed; on a
table of this size it samples every row in about a millisecond, after the response has gone.
The application's database role does not own the tables, so it asks the owner's function
``public.serviflow_analyze`` (``tenants.roles``), which analyzes public tables and nothing else.
"""

from __future__ import annotations

from django.db import connection, models, transaction

from core.afterwards import after_response


def analyze_after_commit(*tables: type[models.Model]) -> None:
    """``ANALYZE`` the public tables of these models after the current transaction commits."""
    names = [model._meta.db_table for model in tables]

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT public.serviflow_analyze(%s)", [names])

    transaction.on_commit(lambda: after_response(analyze))
