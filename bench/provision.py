"""Provisioning benchmark: seconds per new customer, cloned from the template schema.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it fills the platform up to 10, 100 and 500 customers
and, at each size, times TIMED fresh ``customer_provision`` calls one by one (row, cloned schema,
domain, settings, audit entries: one transaction each). The timed customers stay and count
toward the next size. For comparison it times REPLAYS "replayed migrations" of the same schema
(customer row + CREATE SCHEMA + ``migrate_schemas`` for that one schema), which are removed again.

Targets: median <= 0.5 s per new customer at every size, median at 500 <= 1.5 x median at 10,
and cloning at least 5 x faster than replaying the migrations.

Run: ``python3 dev.py bench provision`` (or ``make bench-provision``); ``--smoke`` for tiny
sizes (2 customers, 3 clones and 1 replay: it runs, its figures mean nothing).

This module also holds what every benchmark shares: the throw-away database
(``in_bench_database``), the ``--smoke`` option (``smoke``), the verdict lines and timing helpers,
and a server process for the benchmarks that measure over HTTP (``served``, ``purge_queue``).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache, partial
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from wsgiref.util import setup_testing_defaults

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")


@cache
def smoke() -> bool:
    """Whether this run is a smoke run (``--smoke``): tiny sizes, to show in seconds that the
    benchmark still runs end to end; its figures and verdict mean nothing then. Every benchmark
    takes this option; the command line parsed is the running benchmark's (``__main__``, whose
    docstring ``--help`` prints), also when a module it imports asks."""
    parser = argparse.ArgumentParser(
        description=sys.modules["__main__"].__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: checks that the benchmark runs (figures and verdict mean nothing)",
    )
    return bool(parser.parse_args().smoke)


SIZES = (2,) if smoke() else (10, 100, 500)
TIMED = 3 if smoke() else 15  # fresh customers timed at each size
REPLAYS = 1 if smoke() else 5  # replayed-migration runs at each size
JOB = "bench.provision"

TARGET_MEDIAN_S = 0.5
TARGET_GROWTH = 1.5  # median at the largest size / median at the smallest size
TARGET_SPEEDUP = 5.0  # replay median / clone median

# What a schema "looks like": used to check that clone and replay produce the same structure.
_SHAPE_QUERIES = {
    "tables": """
        SELECT c.relname FROM pg_class c
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind IN ('r', 'p')""",
    "columns": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
               || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
               || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT t.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
          FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
         WHERE c.connamespace = %(ns)s::regnamespace""",
    "indexes": """
        SELECT pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE ic.relnamespace = %(ns)s::regnamespace""",
    "migrations": "SELECT app || '.' || name FROM {schema}.django_migrations",
}


def wsgi_get(
    handler: Callable[..., Any], path: str, query: str, token: str
) -> tuple[float, int, dict[str, str], bytes]:
    """One authenticated GET through Django's WSGI handler (what gunicorn calls, minus the
    socket): seconds, status code, headers and body."""
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": "localhost"}
    environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    setup_testing_defaults(environ)
    answer: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer.append((line, headers))

    start = time.perf_counter()
    response = handler(environ, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()
    took = time.perf_counter() - start
    line, headers = answer[0]
    return took, int(line.split()[0]), dict(headers), body


def log(message: str) -> None:
    print(message, flush=True)


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database (``?host=/socket/dir`` is kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def bench_database_name(source_url: str) -> str:
    """The benchmarks' database: the name of ``source_url``'s database + ``_bench``, so two
    checkouts with databases of their own on one server do not drop each other's."""
    name = unquote(urlsplit(source_url).path.lstrip("/")) or "serviflow"
    # PostgreSQL truncates names to 63 bytes; keep the suffix.
    return name.encode()[:57].decode(errors="ignore") + "_bench"


SMOKE_TEMPLATE_VARIABLE = "BENCH_SMOKE_TEMPLATE"


def recreate_database(admin_url: str, name: str, *, create: bool, template: str = "") -> None:
    """Drop ``name``; then, with ``create``, make it again: empty, or a copy of ``template``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create and template:
            copy = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
            conn.execute(copy.format(sql.Identifier(name), sql.Identifier(template)))
        elif create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def customer_count() -> int:
    from tenants.models import Customer

    return Customer.objects.customers().count()


def provision(slug: str) -> None:
    from tenants.services import customer_provision

    customer_provision(name=f"Bench {slug}", slug=slug, timezone_name="Europe/Berlin")


def replay_migrations(slug: str) -> str:
    """What provisioning cost before cloning: register the tenant, create its schema, migrate it."""
    from django.core.management import call_command
    from django.db import connection
    from psycopg import sql

    from tenants.models import Customer, CustomerKind
    from tenants.validators import schema_name_for

    schema = schema_name_for(slug)
    Customer.objects.create(name=f"Replay {slug}", slug=slug, schema_name=schema, kind=CustomerKind.CUSTOMER)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    return schema


def remove_replayed(slug: str) -> None:
    from django.db import connection
    from psycopg import sql

    from tenants.models import Customer
    from tenants.validators import schema_name_for

    Customer.objects.filter(slug=slug).delete()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema_name_for(slug))))


def schema_shape(schema: str) -> dict[str, set[str]]:
    from django.db import connection
    from psycopg import sql

    shape: dict[str, set[str]] = {}
    with connection.cursor() as cursor:
        for key, query in _SHAPE_QUERIES.items():
            statement = sql.SQL(query).format(schema=sql.Identifier(schema))
            cursor.execute(statement, {"ns": schema})
            # Qualified names differ between the two schemas only by the schema itself.
            shape[key] = {row[0].replace(f"{schema}.", "") for row in cursor.fetchall()}
    return shape


def compare_shapes(cloned: str, replayed: str) -> list[str]:
    """Differences between a cloned and a replayed schema (empty: same structure).

    Compares catalog text, so an equivalent expression that PostgreSQL deparses differently
    (a CHECK re-created from ``pg_get_constraintdef`` output) shows up too.
    """
    a, b = schema_shape(cloned), schema_shape(replayed)
    problems: list[str] = []
    for key in _SHAPE_QUERIES:
        for item in sorted(a[key] - b[key]):
            problems.append(f"{key}: only in the clone {cloned}: {item}")
        for item in sorted(b[key] - a[key]):
            problems.append(f"{key}: only in the replay {replayed}: {item}")
    return problems


def run() -> list[dict[str, Any]]:
    from django.core.management import call_command

    from audit.context import job_context
    from tenants.validators import schema_name_for

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)

    results: list[dict[str, Any]] = []
    filler = 0
    with job_context(JOB):
        for size in SIZES:
            fill_start = time.perf_counter()
            added = 0
            while customer_count() < size:
                filler += 1
                provision(f"bench-{filler:04d}")
                added += 1
            fill_s = time.perf_counter() - fill_start
            if added:
                each_ms = fill_s / added * 1000
                log(f"==> filled to {size} customers (+{added} in {fill_s:.1f} s, {each_ms:.0f} ms each)")

            population = customer_count()
            clone = [timed(partial(provision, f"timed-{size}-{i:02d}")) for i in range(TIMED)]
            log(f"    {TIMED} timed clones at {population}: median {statistics.median(clone):.3f} s")

            replay: list[float] = []
            for i in range(REPLAYS):
                slug = f"replay-{size}-{i}"
                replay.append(timed(partial(replay_migrations, slug)))
                if i == 0 and size == SIZES[0]:
                    # Sanity check that both ways build the same schema (textual catalog output).
                    problems = compare_shapes(schema_name_for(f"timed-{size}-00"), schema_name_for(slug))
                    for problem in problems:
                        log(f"    NOTE clone differs from replay: {problem}")
                    if not problems:
                        log("    clone and replayed schema have the same structure and migration records")
                remove_replayed(slug)
            log(f"    {REPLAYS} replays at {population}: median {statistics.median(replay):.3f} s")
            results.append({"size": population, "clone": clone, "replay": replay})
    return results


def report(results: list[dict[str, Any]]) -> bool:
    header = (
        f"{'customers':>9}  {'clone median':>12}  {'clone p95':>9}  {'replay median':>13}  "
        f"{'replay/clone':>12}  {'median vs ' + str(results[0]['size']):>13}"
    )
    first = statistics.median(results[0]["clone"])
    log("")
    log(f"Provisioning, seconds per new customer ({TIMED} clones, {REPLAYS} replays per size)")
    log(header)
    log("-" * len(header))
    for row in results:
        median = statistics.median(row["clone"])
        replay = statistics.median(row["replay"])
        log(
            f"{row['size']:>9}  {median:>12.3f}  {p95(row['clone']):>9.3f}  {replay:>13.3f}  "
            f"{replay / median:>11.1f}x  {median / first:>12.2f}x"
        )

    medians = [statistics.median(row["clone"]) for row in results]
    speedups = [statistics.median(row["replay"]) / statistics.median(row["clone"]) for row in results]
    growth = medians[-1] / medians[0]
    checks = [
        (
            f"median <= {TARGET_MEDIAN_S} s per new customer at every size",
            max(medians) <= TARGET_MEDIAN_S,
            f"worst {max(medians):.3f} s",
        ),
        (
            f"median at {results[-1]['size']} <= {TARGET_GROWTH} x median at {results[0]['size']}",
            growth <= TARGET_GROWTH,
            f"{growth:.2f}x",
        ),
        (
            f"clone >= {TARGET_SPEEDUP:g} x faster than replaying migrations (every size)",
            min(speedups) >= TARGET_SPEEDUP,
            f"worst {min(speedups):.1f}x",
        ),
    ]
    return print_verdict(checks)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    command: list[str], *, name: str, env: dict[str, str], cwd: Path, ready: Callable[[], bool]
) -> Iterator[None]:
    """Run ``command`` (a server: gunicorn) until the block ends; ready once ``ready()`` is true
    (errors of connecting count as not yet), within 60 s. Its output goes to a log file that the
    error names when it does not come up, and that is removed at the end."""
    log_file = Path(tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with suppress(OSError, HTTPException):
                if ready():
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log_file.read_text()[-3000:]}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.unlink(missing_ok=True)


def purge_queue(queue: str) -> int:
    """Drop a Celery queue of the benchmark's own that nothing consumes (the tasks a timed run
    enqueued); returns how many tasks were waiting."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = list(client.scan_iter(match=f"*{queue}*"))
    waiting = int(client.llen(queue)) if keys else 0
    if keys:
        client.delete(*keys)
    return waiting


def print_verdict(checks: list[tuple[str, bool, str]]) -> bool:
    """One PASS/FAIL line per target, then the verdict (shared by every benchmark)."""
    log("")
    for label, ok, detail in checks:
        log(f"{'PASS' if ok else 'FAIL'}  {label}  ({detail})")
    passed = all(ok for _, ok, _ in checks)
    log(f"\nVerdict: {'PASS' if passed else 'FAIL'}")
    return passed


def in_bench_database(body: Callable[[str], object], env: dict[str, str] | None = None) -> int:
    """Run ``body(bench_database_url)`` with Django set up on a throw-away database beside the
    one of DATABASE_URL (``bench_database_name``), dropped again at the end (also on failure).
    ``env`` is added to the environment first (worker processes the body starts inherit it)."""
    from serviflow import embedded

    source_url = os.environ.get("DATABASE_URL") or embedded.postgres_url()
    name = bench_database_name(source_url)
    bench_url = with_database(source_url, name)
    admin_url = with_database(source_url, "postgres")
    log(f"==> bench database {name} (dropped and re-created; your data is not touched)")
    # `dev.py bench --smoke` migrates one database first (bench/_smoke_template.py) and every
    # smoke run starts from a copy of it: its own sync_platform then has nothing left to migrate.
    recreate_database(admin_url, name, create=True, template=os.environ.get(SMOKE_TEMPLATE_VARIABLE, ""))
    os.environ |= {"DATABASE_URL": bench_url, **(env or {})}
    started = time.perf_counter()
    try:
        import django

        django.setup()
        body(bench_url)
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, name, create=False)
        log(f"==> dropped {name}; total {time.perf_counter() - started:.0f} s")
    return 0


def main() -> int:
    return in_bench_database(lambda _url: report(run()))


if __name__ == "__main__":
    sys.exit(main())
