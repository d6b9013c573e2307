"""Audit chain benchmark (issue 17): what sealing entries into the hash chain costs a write, how
many writes commit per second with 8 concurrent writers, and how long verifying a chain of
1,000,000 entries takes.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it provisions 8 customers and a provider admin.

1. Added latency: UPDATES ticket updates (the priority toggled through
   ``tickets.workflows.ticket_update``, each its own transaction, so its entry is sealed at its
   commit), in blocks of BLOCK alternating with the chain switched off (the sealing and guard
   triggers disabled on that customer's entry table) so that drift hits both alike; median and
   p95 per mode, and what the chain adds at p95.
2. Throughput: 8 threads, each with its own connection, updating a ticket of its own WRITES
   times, all in one customer (their seals take turns on that customer's head), then spread
   over 8 customers (one head each); updates per second, chain on.
3. Verify: a chain of ENTRIES entries in a customer of its own (rows inserted in bulk, sealed as
   the trigger would, then checked once), timed through ``audit.chain.verify`` (every entry
   re-hashed in Python and its links followed; a chain this long on two processes).

Targets: <= 1 ms added at p95 (1); verifying 1,000,000 entries <= 10 s (3); (2) is reported.

Run: ``python3 dev.py bench audit``; ``--smoke`` for tiny sizes (it runs, its figures mean
nothing).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/audit: run as ``python bench/audit``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import in_bench_database, log, p95, print_verdict, smoke  # noqa: E402

SMOKE = smoke()
UPDATES = 40 if SMOKE else 2000
BLOCK = 10 if SMOKE else 50
WARM_UP = 10 if SMOKE else 100
WRITERS = 8
WRITES = 5 if SMOKE else 150
ENTRIES = 10_000 if SMOKE else 1_000_000
JOB = "bench.audit"

TARGET_ADDED_P95_MS = 1.0
TARGET_VERIFY_S = 10.0


def setup() -> tuple[Any, list[Any]]:
    from django.core.management import call_command

    from accounts.services import AgentFields, agent_create
    from tenants.services import customer_provision

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    admin = agent_create(
        fields=AgentFields(email="admin@msp.bench", name="Bench Admin", is_admin=True),
        password="audit-bench-password-1",  # noqa: S106 - a throw-away account
    )
    customers = [customer_provision(name=f"Audit {n}", slug=f"audit-{n}") for n in range(WRITERS + 1)]
    return admin, customers


def ticket_of(customer: Any, admin: Any, subject: str) -> Any:
    from tenants.schema import customer_schema
    from tickets import workflows

    with customer_schema(customer):
        return workflows.ticket_create(customer=customer, by=admin, new=workflows.NewTicket(subject=subject))


def toggle(customer: Any, admin: Any, ticket: Any, n: int) -> Any:
    from tickets import workflows

    priority = "P2" if n % 2 else "P3"
    return workflows.ticket_update(
        customer=customer, ticket=ticket, by=admin, changes=workflows.TicketChanges(priority=priority)
    )


def chain_switch(customer: Any, on: bool) -> None:
    from django.db import connection

    from audit import chain

    verb = "ENABLE" if on else "DISABLE"
    with connection.cursor() as cursor:
        for trigger in ("audit_guard", "audit_chain_seal"):
            cursor.execute(
                f'ALTER TABLE "{customer.schema_name}".{chain.ENTRY_TABLE} {verb} TRIGGER {trigger}'
            )


def added_latency(admin: Any, customer: Any) -> dict[str, list[float]]:
    from tenants.schema import customer_schema

    ticket = ticket_of(customer, admin, "Latency")
    samples: dict[str, list[float]] = {"chain": [], "no chain": []}
    with customer_schema(customer):
        for n in range(WARM_UP):
            ticket = toggle(customer, admin, ticket, n)
        for block in range(UPDATES * 2 // BLOCK):
            mode = "chain" if block % 2 == 0 else "no chain"
            chain_switch(customer, mode == "chain")
            for n in range(BLOCK):
                started = time.perf_counter()
                ticket = toggle(customer, admin, ticket, n)
                samples[mode].append(time.perf_counter() - started)
        chain_switch(customer, True)
    return samples


def throughput(admin: Any, customers: list[Any]) -> float:
    """Updates per second from WRITERS threads, each on a ticket of its own in ``customers[i %
    len(customers)]``."""
    from django.db import connections

    from audit.context import job_context
    from tenants.schema import customer_schema

    tickets = [ticket_of(customers[i % len(customers)], admin, f"Writer {i}") for i in range(WRITERS)]
    start = threading.Barrier(WRITERS + 1)
    failures: list[BaseException] = []

    def writer(i: int) -> None:
        customer, ticket = customers[i % len(customers)], tickets[i]
        try:
            with job_context(JOB), customer_schema(customer):
                start.wait()
                for n in range(WRITES):
                    ticket = toggle(customer, admin, ticket, n + 1)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"a writer failed: {failures[0]!r}")
    return WRITERS * WRITES / took


def long_chain(customer: Any) -> None:
    """ENTRIES more entries in ``customer``'s chain: inserted in bulk round the triggers, then
    every entry of the chain (its first ones, from provisioning, included) sealed as the trigger
    would (hashed in Python from the rows' text), the seals copied in and the head set."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from psycopg import sql

    from audit import chain
    from tickets.models import Ticket

    schema = customer.schema_name
    entries = sql.Identifier(schema, chain.ENTRY_TABLE)
    seals = sql.Identifier(schema, chain.SEAL_TABLE)
    kind = ContentType.objects.get_for_model(Ticket).pk
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            sql.SQL(
                "INSERT INTO {entries} (content_type_id, object_pk, object_id, object_repr, action,"
                " changes_text, changes, timestamp, channel, job)"
                " SELECT %s, n::text, n, 'Ticket ' || n, 1, '',"
                " jsonb_build_object('priority', jsonb_build_array('P3', 'P2')),"
                " now() - make_interval(secs => %s - n), 'system', %s"
                " FROM generate_series(1, %s) AS n"
            ).format(entries=entries),
            [kind, ENTRIES, JOB, ENTRIES],
        )
        cursor.execute(sql.SQL("DELETE FROM {seals}").format(seals=seals))
        cursor.execute(
            sql.SQL("SELECT {parts} FROM {entries} e ORDER BY e.id").format(
                parts=sql.SQL(chain.parts_sql("e")), entries=entries
            )
        )
        previous, sealed = chain.genesis(schema), []
        for seq, parts in enumerate(cursor.fetchall(), start=1):
            digest = chain.entry_digest(schema, seq, previous, parts)
            sealed.append((seq, int(parts[0]), previous, digest))
            previous = digest
        with cursor.cursor.copy(
            sql.SQL("COPY {seals} (seq, entry_id, prev_hash, hash) FROM STDIN").format(seals=seals)
        ) as copy:
            for row in sealed:
                copy.write_row(row)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {head} (id, seq, hash) VALUES (1, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash"
            ).format(head=sql.Identifier(schema, chain.HEAD_TABLE)),
            [len(sealed), previous],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(sql.SQL("VACUUM ANALYZE {entries}").format(entries=entries))
        cursor.execute(sql.SQL("VACUUM ANALYZE {seals}").format(seals=seals))


def run(_url: str) -> None:
    from audit import chain
    from audit.context import job_context

    with job_context(JOB):
        admin, customers = setup()
        log(f"==> {len(customers)} customers")

        latency = added_latency(admin, customers[0])
        on, off = latency["chain"], latency["no chain"]
        log(f"    added latency: {len(on)} updates per mode")

        one = throughput(admin, customers[1:2])
        spread = throughput(admin, customers[1 : WRITERS + 1])
        log(f"    throughput: one customer {one:.0f}/s, {WRITERS} customers {spread:.0f}/s")

        started = time.perf_counter()
        long_chain(customers[-1])
        log(f"    {ENTRIES:,} entries chained in {time.perf_counter() - started:.1f} s (setup, not timed)")
        started = time.perf_counter()
        verdict = chain.verify(customers[-1].schema_name)
        verify_s = time.perf_counter() - started

    added = (p95(on) - p95(off)) * 1000
    log("")
    log("Ticket updates through tickets.workflows.ticket_update, each its own transaction; ms per update.")
    header = f"{'mode':<28} {'updates':>8} {'median':>8} {'p95':>8}"
    log(header)
    log("-" * len(header))
    for label, samples in (("chain (sealed at commit)", on), ("no chain (triggers off)", off)):
        median, high = statistics.median(samples) * 1000, p95(samples) * 1000
        log(f"{label:<28} {len(samples):>8} {median:>8.2f} {high:>8.2f}")
    added_median = (statistics.median(on) - statistics.median(off)) * 1000
    log(f"added by the chain: median {added_median:.2f} ms, p95 {added:.2f} ms")
    log(
        f"{WRITERS} concurrent writers, {WRITES} updates each: one customer {one:.0f} updates/s, "
        f"{WRITERS} customers {spread:.0f} updates/s"
    )
    log(f"verify {ENTRIES:,} entries: {verify_s:.2f} s ({verdict.entries:,} checked, ok={verdict.ok})")
    print_verdict(
        [
            (
                f"the chain adds <= {TARGET_ADDED_P95_MS:g} ms at p95 to a ticket update",
                added <= TARGET_ADDED_P95_MS,
                f"{added:.2f} ms",
            ),
            (
                f"verifying {ENTRIES:,} entries <= {TARGET_VERIFY_S:g} s",
                verify_s <= TARGET_VERIFY_S and verdict.ok,
                f"{verify_s:.2f} s, ok={verdict.ok}",
            ),
        ]
    )


def main() -> int:
    env = {
        "DEBUG": "0",  # no query logging, as deployed
        "SECRET_KEY": "bench-audit-" + os.urandom(16).hex(),
        "EMAIL_URL": "locmem:",
        "SECURE_SSL_REDIRECT": "0",
        "DB_POOL_MAX_SIZE": str(WRITERS + 4),  # a connection for each writer thread
    }
    return in_bench_database(run, env=env)


if __name__ == "__main__":
    sys.exit(main())
