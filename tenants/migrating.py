"""Migrate the customers' schemas in batches: schema changes without downtime.

``sync_platform`` (``migrate_schemas``) walks every schema in one go with each migration its own
transaction: a failure leaves that schema with the migrations before it applied, and a run that
stops cannot continue where it stopped. Here the template is migrated first, so that every
customer provisioned meanwhile is cloned in the new shape; then the customers, in schema-name
order, batch by batch. Each schema's pending migrations run in one transaction under a lock
timeout, so a schema is migrated completely or not at all, no table waits behind a long query
for more than the timeout (the attempt is rolled back and retried), and a stopped run resumes
from the schema it names. The migrations themselves are django-tenants' ``migrate_schemas``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from psycopg import sql

from tenants.models import Customer
from tenants.roles import owner_functions_install
from tenants.schema import public_schema_restore

LOCK_ATTEMPTS = 3  # a schema whose tables stay locked this many lock timeouts in a row fails
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Migrated:
    schema: str
    batch: int  # 0: the template
    applied: int  # migrations applied (0: the schema was current)
    seconds: float  # all attempts, from the first start to the commit
    attempts: int


class SchemaMigrationFailed(Exception):
    """A schema's migrations failed; its transaction was rolled back, so it is as it was."""

    def __init__(self, schema: str, error: Exception) -> None:
        super().__init__(f"{schema}: {type(error).__name__}: {error}".strip())
        self.schema = schema
        self.error = error


def customer_batches(*, size: int, start: str = "") -> list[list[str]]:
    """Every customer's schema (archived ones too: a restore must find it current) in name order,
    from ``start`` on, cut into batches of ``size``."""
    schemas = Customer.objects.customers().order_by("schema_name").values_list("schema_name", flat=True)
    if start:
        schemas = schemas.filter(schema_name__gte=start)
    names = list(schemas)
    return [names[first : first + size] for first in range(0, len(names), size)]


def migrate_template(*, lock_timeout_s: float = 5.0) -> Migrated:
    """The template first: customers are listed after it committed (``customer_batches``), so one
    provisioned meanwhile is either cloned in the new shape or listed and migrated."""
    return migrate_schema(settings.TENANT_TEMPLATE_SCHEMA, batch=0, lock_timeout_s=lock_timeout_s)


def migrate_in_batches(
    batches: list[list[str]], *, pause_s: float = 0.0, lock_timeout_s: float = 5.0
) -> Iterator[Migrated]:
    """``batches`` of customer schemas one after the other (``pause_s`` between two), one result
    per schema as it commits. Raises ``SchemaMigrationFailed`` at the first schema that fails."""
    for number, batch in enumerate(batches, start=1):
        if number > 1 and pause_s:
            time.sleep(pause_s)
        for schema in batch:
            yield migrate_schema(schema, batch=number, lock_timeout_s=lock_timeout_s)


def migrate_schema(schema: str, *, batch: int, lock_timeout_s: float) -> Migrated:
    started = time.perf_counter()
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                applied = _migrate(schema, lock_timeout_s)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE or attempt == LOCK_ATTEMPTS:
                raise SchemaMigrationFailed(schema, exc) from exc
        except Exception as exc:
            raise SchemaMigrationFailed(schema, exc) from exc
        else:
            return Migrated(schema, batch, applied, time.perf_counter() - started, attempt)
        finally:
            public_schema_restore()  # migrate_schemas leaves a failed schema's path in force
    raise AssertionError("unreachable")  # the last attempt returned or raised


def _migrate(schema: str, lock_timeout_s: float) -> int:
    table = sql.Identifier(schema, "django_migrations")
    records = sql.SQL("SELECT count(*) FROM {}").format(table)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_timeout_s * 1000:.0f}ms"))
        )
        if schema == settings.TENANT_TEMPLATE_SCHEMA:
            # The clone function locks the template's migration records (SHARE, to its commit)
            # before it reads them (its fingerprint) or any template table: a provisioning that
            # meets this migration waits for its commit and is then refused (TemplateChanged,
            # nothing made), one already cloning finishes before the template changes. No clone
            # mixes the two shapes, and both take this table first: no deadlock.
            cursor.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        cursor.execute(records)
        before = int(cursor.fetchone()[0])
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    if schema == settings.TENANT_TEMPLATE_SCHEMA:
        owner_functions_install()  # the clone function is generated from the template's new shape
    with connection.cursor() as cursor:
        cursor.execute(records)
        return int(cursor.fetchone()[0]) - before
