"""Schemas per database: what 1,000 customers cost the catalog, and a one-column migration of them.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it runs ``sync_platform`` and provisions CUSTOMERS
customers with ``customer_provision``, then:

- catalog: rows of ``pg_class``, ``pg_attribute`` and ``pg_depend``, the size of the
  ``pg_catalog`` tables and of the database, before and after, and the growth per 1,000 schemas;
- ``pg_dump --schema-only`` of one customer schema, then of DUMPED, while the locks of its
  session are sampled: pg_dump locks every table it dumps (and the catalog tables it reads)
  until it ends, so the difference gives the locks per schema that a dump of the whole database
  needs, against the server's shared lock table;
- a one-column migration (``AddField``: a nullable text column on ``tickets.Ticket``, written by
  Django's ``MigrationWriter`` into a temporary copy of the tickets app's migrations that
  ``MIGRATION_MODULES`` points at; the project's migrations are never touched) applied the
  batched way (``tenants.migrating``, what ``manage.py migrate_customers`` runs): the template,
  then batches of BATCH schemas, each schema in one transaction; timed in all and per schema;
- a second such column applied to the template and every customer by ``sync_platform``, the
  deploy command, timed.

While each migration runs a thread samples ``pg_locks`` every 20 ms and keeps the most locks one
session of the benchmark held. Afterwards every schema must have the new column.

Targets: a migration of 1,000 schemas within 15 minutes either way (a deploy's maintenance
window, and the batches' total while the old version keeps serving); the batched way holds each
schema's transaction (so the locks on its tables) at most 1 s at p95, so a request that meets
a lock waits about a second, far below gunicorn's timeout; and no session needs more locks
than ``max_locks_per_transaction``, so the migration needs no change to the server.

Run: ``python3 dev.py bench migrate``; ``--smoke`` for tiny sizes (5 customers: it runs, its
figures mean nothing). Takes 45-60 minutes on a loaded 2-core machine, about 20 of them provisioning.
"""

from __future__ import annotations

import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/migrate: run as ``python bench/migrate``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import in_bench_database, log, p95, print_verdict, provision, smoke  # noqa: E402

SMOKE = smoke()
CUSTOMERS = 5 if SMOKE else 1_000
BATCH = 2 if SMOKE else 100
DUMPED = 3 if SMOKE else 10  # customer schemas pg_dump dumps while its locks are counted
JOB = "bench.migrate"
APP, MODEL = "tickets", "ticket"
PER = 1_000  # figures are given per this many schemas

TARGET_PER_1000_S = 900.0
TARGET_SCHEMA_P95_S = 1.0

_CATALOG = """
SELECT (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_attribute),
       (SELECT count(*) FROM pg_depend),
       (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
         WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'),
       pg_database_size(current_database())
"""
_CATALOG_LABELS = ("pg_class rows", "pg_attribute rows", "pg_depend rows", "pg_catalog MB", "database MB")

# The most locks one session of this database holds (the sampler's own session apart).
_LOCKS = """
SELECT COALESCE(max(n), 0) FROM (
  SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
   WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() GROUP BY l.pid) per_session
"""

_SCHEMAS_WITH = """
SELECT count(*) FROM information_schema.columns
 WHERE table_name = %s AND column_name = %s AND table_schema <> 'public'
"""


def catalog() -> tuple[float, ...]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_CATALOG)
        classes, attributes, depends, catalog_bytes, database_bytes = cursor.fetchone()
    return (classes, attributes, depends, catalog_bytes / 2**20, database_bytes / 2**20)


def public_tables() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        )
        return int(cursor.fetchone()[0])


def settings_of_server() -> dict[str, int]:
    from django.db import connection

    names = ("max_locks_per_transaction", "max_connections", "max_prepared_transactions")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, setting::int FROM pg_settings WHERE name = ANY(%s)", [list(names)])
        return dict(cursor.fetchall())


@contextmanager
def lock_peak(url: str) -> Iterator[list[int]]:
    """Samples the most locks one session holds while the block runs: the list holds it after."""
    import psycopg

    peak = [0]
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.is_set():
                row = conn.execute(_LOCKS).fetchone()
                peak[0] = max(peak[0], int(row[0]) if row else 0)
                time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def dump_locks(url: str, schemas: list[str]) -> int | None:
    """Peak locks of ``pg_dump --schema-only`` of ``schemas`` (None: no pg_dump for this server)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    command = [pg_dump, "--schema-only", "--dbname", url, *(f"--schema={schema}" for schema in schemas)]
    with lock_peak(url) as peak:
        done = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
        )
    if done.returncode:
        log(f"    pg_dump failed (skipped): {done.stderr.strip()[:200]}")
        return None
    return peak[0]


def migrations_with(columns: list[str], folder: Path) -> str:
    """A package of the app's migrations plus one ``AddField`` per column (each after the one
    before), written by Django itself; returns its module name."""
    from django.db import migrations, models
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.writer import MigrationWriter

    package = f"bench_migrate_{APP}_{len(columns)}_{os.getpid()}"
    target = folder / package
    shutil.copytree(ROOT / APP / "migrations", target, ignore=shutil.ignore_patterns("__pycache__"))
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(APP)
    for n, column in enumerate(columns, start=1):
        add = migrations.AddField(
            model_name=MODEL, name=column, field=models.TextField(null=True, blank=True)
        )
        body = {"dependencies": [leaf], "operations": [add]}
        migration = type("Migration", (migrations.Migration,), body)(f"9{n:03d}_bench_{column}", APP)
        (target / f"{migration.name}.py").write_text(MigrationWriter(migration).as_string())
        leaf = (APP, migration.name)
    importlib.invalidate_caches()  # the new package must be importable at once
    return package


def schemas_with(column: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_SCHEMAS_WITH, [f"{APP}_{MODEL}", column])
        return int(cursor.fetchone()[0])


def timed_with_migrations(package: str, url: str, action: Callable[[], Any]) -> tuple[float, int, Any]:
    from django.test.utils import override_settings

    with override_settings(MIGRATION_MODULES={APP: package}), lock_peak(url) as peak:
        started = time.perf_counter()
        outcome = action()
        seconds = time.perf_counter() - started
    return seconds, peak[0], outcome


def report_catalog(
    server: dict[str, int],
    before: tuple[float, ...],
    after: tuple[float, ...],
    dumped: tuple[int, int] | None,
    took: float,
) -> None:
    log("")
    log(f"Catalog of {CUSTOMERS} customer schemas (provisioned in {took:.0f} s)")
    header = f"{'':<18}  {'before':>10}  {'after':>10}  {'per ' + format(PER, ',') + ' schemas':>17}"
    log(header)
    log("-" * len(header))
    for label, old, new in zip(_CATALOG_LABELS, before, after, strict=True):
        log(f"{label:<18}  {old:>10.0f}  {new:>10.0f}  {(new - old) / CUSTOMERS * PER:>17.0f}")
    capacity = server["max_locks_per_transaction"] * (
        server["max_connections"] + server["max_prepared_transactions"]
    )
    log(
        f"\nShared lock table: max_locks_per_transaction {server['max_locks_per_transaction']} x "
        f"(max_connections {server['max_connections']} + max_prepared_transactions "
        f"{server['max_prepared_transactions']}) = {capacity} locks"
    )
    if dumped is not None:
        one, many = dumped
        each = (many - one) / (DUMPED - 1)
        # The whole database: the template too (``one`` holds one schema already) and public.
        whole = one + each * CUSTOMERS + public_tables()
        log(
            f"pg_dump --schema-only, peak locks: 1 customer schema {one}, {DUMPED} schemas {many}: "
            f"{each:.1f} per schema + {one - each:.0f}; the whole database needs about {whole:.0f}"
        )


def migrate_batched() -> list[Any]:
    from tenants.migrating import customer_batches, migrate_in_batches, migrate_template

    results = [migrate_template()]
    for result in migrate_in_batches(customer_batches(size=BATCH)):
        results.append(result)
        if len(results) % BATCH == 1:
            log(f"    {len(results) - 1} customer schemas migrated, at batch {result.batch}")
    return results


def run(url: str) -> bool:
    from django.core.management import call_command

    from audit.context import job_context
    from tenants.validators import schema_name_for

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    server = settings_of_server()
    before = catalog()
    started = time.perf_counter()
    with job_context(JOB):
        for n in range(1, CUSTOMERS + 1):
            provision(f"bench-{n:04d}")
            if n % 100 == 0:
                log(f"    {n} customers ({(time.perf_counter() - started) / n * 1000:.0f} ms each)")
    provisioned_s = time.perf_counter() - started
    log(f"==> provisioned {CUSTOMERS} customers in {provisioned_s:.0f} s")
    after = catalog()
    dumped_schemas = [schema_name_for(f"bench-{n:04d}") for n in range(1, DUMPED + 1)]
    first, several = dump_locks(url, dumped_schemas[:1]), dump_locks(url, dumped_schemas)
    dumped = (first, several) if first is not None and several is not None else None
    report_catalog(server, before, after, dumped, provisioned_s)

    folder = Path(tempfile.mkdtemp(prefix="bench-migrate-"))
    sys.path.insert(0, str(folder))
    try:
        one = migrations_with(["bench_note"], folder)
        two = migrations_with(["bench_note", "bench_note_2"], folder)
        log(f"==> one-column migration, in batches of {BATCH} (tenants.migrating: template, every customer)")
        with job_context(JOB):
            batched_s, batched_locks, results = timed_with_migrations(one, url, migrate_batched)
        batched_done = schemas_with("bench_note")
        log(f"    {batched_s:.0f} s")
        log("==> second column, sync_platform (the deploy command)")
        deploy_s, deploy_locks, _ = timed_with_migrations(
            two, url, lambda: call_command("sync_platform", verbosity=0)
        )
        deploy_done = schemas_with("bench_note_2")
        log(f"    {deploy_s:.0f} s")
    finally:
        sys.path.remove(str(folder))
        shutil.rmtree(folder)

    schemas = CUSTOMERS + 1  # and the template
    seconds = [r.seconds for r in results if r.batch]
    retries = sum(r.attempts - 1 for r in results)
    log(f"\nOne-column migration of {schemas} schemas (template included)")
    header = (
        f"{'way':<22}  {'total s':>8}  {'s per ' + format(PER, ',') + ' schemas':>19}  "
        f"{'ms per schema':>13}  {'peak locks':>10}  {'migrated':>9}"
    )
    log(header)
    log("-" * len(header))
    for way, total, locks, done in (
        (f"batches of {BATCH}", batched_s, batched_locks, batched_done),
        ("sync_platform", deploy_s, deploy_locks, deploy_done),
    ):
        log(
            f"{way:<22}  {total:>8.1f}  {total / schemas * PER:>19.0f}  {total / schemas * 1000:>13.0f}  "
            f"{locks:>10}  {done:>4}/{schemas}"
        )
    log(
        f"batched, per schema (its transaction): median {statistics.median(seconds) * 1000:.0f} ms, "
        f"p95 {p95(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms, {retries} lock retries"
    )

    worst_per_1000 = max(deploy_s, batched_s) / schemas * PER
    peak = max(deploy_locks, batched_locks)
    return print_verdict(
        [
            (
                f"migration of {PER:,} schemas within {TARGET_PER_1000_S / 60:.0f} min, either way",
                worst_per_1000 <= TARGET_PER_1000_S,
                f"worst {worst_per_1000:.0f} s per {PER:,}",
            ),
            (
                f"batched: each schema's transaction (its locks) <= {TARGET_SCHEMA_P95_S:g} s at p95",
                p95(seconds) <= TARGET_SCHEMA_P95_S,
                f"{p95(seconds):.2f} s",
            ),
            (
                "no session needs more locks than max_locks_per_transaction",
                peak <= server["max_locks_per_transaction"],
                f"peak {peak} of {server['max_locks_per_transaction']}",
            ),
            (
                "every schema has the new column, both ways",
                deploy_done == batched_done == schemas,
                f"{deploy_done} and {batched_done} of {schemas}",
            ),
        ]
    )


def main() -> int:
    return in_bench_database(run)


if __name__ == "__main__":
    sys.exit(main())
