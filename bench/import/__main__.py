"""CSV import benchmark: rows per second of the import, against the same rows created one by one
through the services, and how often its progress moves.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it provisions CUSTOMERS customers and one more for
the CIs, starts a real Celery worker (solo pool) on a queue of its own, and then:

- users: a file of USERS user rows spread evenly over the customers (``imports.csvfile.COLUMNS``
  columns: customer, email, name, role, timezone); a dry run, the real run, and the same file
  again (every row unchanged);
- CIs: a file of CIS configuration items in one customer, racks first and servers below them
  (parent, type, attributes as JSON); the real run.

Each run is submitted as the provider admin through ``imports.services.import_submit`` and timed
from its enqueue to ``done`` as seen from outside (polled every 20 ms; an untimed dry run of 5
rows first, so that the worker is up); the table also gives the worker's own time
(``started_at`` → ``finished_at``). While it runs, the benchmark records each change of the
published ``processed`` count and heartbeat: the longest gap between two changes of
``processed`` from the first sight of the run working until it is done (and between
heartbeats) is the progress figure.

One by one: ONE_BY_ONE_USERS users (spread over the customers) through
``people.services.customer_user_create`` and ONE_BY_ONE_CIS CIs through
``cmdb.services.ci_create``, each call its own transaction (what an API client or a loop over
the rows would do), timed together; the rate is compared with the import's.

Targets: the real 10,000-user import in <= 20 s; its rate >= 5 x the one-by-one rate; progress
moves at least every 2 s.

Run: ``python3 dev.py bench import``; ``--smoke`` for tiny sizes (it runs, its figures mean
nothing).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/import: run as ``python bench/import``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import in_bench_database, log, print_verdict, smoke  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
CUSTOMERS = 3 if SMOKE else 50
USERS = 60 if SMOKE else 10_000
CIS = 300 if SMOKE else 50_000
SERVERS_PER_RACK = 99
ONE_BY_ONE_USERS = 30 if SMOKE else 1_000
ONE_BY_ONE_CIS = 30 if SMOKE else 1_000
QUEUE = f"bench-import-{os.getpid()}"
JOB = "bench.import"
POLL_SECONDS = 0.02

TARGET_USERS_SECONDS = 20.0
TARGET_SPEEDUP = 5.0
TARGET_PROGRESS_GAP = 2.0


@dataclass
class Timed:
    label: str
    rows: int
    seconds: float
    worker_seconds: float = 0.0
    progress_gap: float = 0.0
    heartbeat_gap: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _csv(kind: str, rows: list[dict[str, str]]) -> bytes:
    from imports.csvfile import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c for c in COLUMNS[kind] if any(c in row for row in rows)])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def user_rows(slugs: list[str], count: int, tag: str) -> list[dict[str, str]]:
    from accounts.models import CustomerRole

    return [
        {
            "customer": slugs[n % len(slugs)],
            "email": f"{tag}{n}@{slugs[n % len(slugs)]}.bench",
            "name": f"Person {n}",
            "role": CustomerRole.ADMIN if n % 20 == 0 else CustomerRole.USER,
            "timezone": "Europe/Berlin",
        }
        for n in range(count)
    ]


def ci_rows(slug: str, count: int) -> list[dict[str, str]]:
    from cmdb.models import CiType

    rows = []
    for n in range(count):
        rack = n // (SERVERS_PER_RACK + 1)
        is_rack = n % (SERVERS_PER_RACK + 1) == 0
        rows.append(
            {
                "customer": slug,
                "name": f"rack-{rack:04d}" if is_rack else f"srv-{n:06d}",
                "type": CiType.OTHER if is_rack else CiType.SERVER,
                "parent": "" if is_rack else f"rack-{rack:04d}",
                "attributes": json.dumps({"row": n, "site": f"site-{rack % 7}"}),
            }
        )
    return rows


def start_worker() -> subprocess.Popen[bytes]:
    log_file = Path("/tmp") / f"{QUEUE}-worker.log"  # noqa: S108 - a bench's own log
    command = [str(Path(sys.executable).parent / "celery"), "-A", "serviflow", "worker", "--pool", "solo"]
    command += ["-Q", QUEUE, "-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log_file.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT
        )


def run_import(label: str, kind: str, content: bytes, *, dry_run: bool = False) -> Timed:
    from django.db import transaction

    from accounts.models import User
    from audit.context import person_context
    from imports.models import Import
    from imports.services import import_submit

    admin = User.objects.get(email="admin@bench.test")
    with transaction.atomic(), person_context(admin, channel="api"):
        job = import_submit(
            by=admin,
            kind=kind,
            file_name=f"{label}.csv",
            content=content,
            dry_run=dry_run,
            send_invites=False,
            channel="api",
        )
    started = time.perf_counter()
    changes: list[float] = []  # from the first sight of the run working to its end
    beats: list[float] = []
    processed, heartbeat = -1, None
    while True:
        row = Import.objects.values("status", "processed", "heartbeat_at").get(pk=job.pk)
        now = time.perf_counter()
        if row["status"] == "running" and row["processed"] != processed:
            processed = row["processed"]
            changes.append(now)
        if row["heartbeat_at"] != heartbeat and row["status"] == "running":
            heartbeat = row["heartbeat_at"]
            beats.append(now)
        if row["status"] in ("done", "failed"):
            break
        time.sleep(POLL_SECONDS)
    ended = time.perf_counter()
    changes = [*(changes or [ended]), ended]
    job.refresh_from_db()
    if job.status != "done":
        raise RuntimeError(f"{label}: the import failed: {job.failure}")
    assert job.started_at is not None and job.finished_at is not None
    return Timed(
        label=label,
        rows=job.total,
        seconds=ended - started,
        worker_seconds=(job.finished_at - job.started_at).total_seconds(),
        progress_gap=max(b - a for a, b in pairwise(changes)),
        heartbeat_gap=max((b - a for a, b in pairwise(beats)), default=0.0),
        counts={
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "refused": job.refused,
        },
    )


def one_by_one(customers: dict[str, Any], ci_customer: Any) -> tuple[Timed, Timed]:
    from accounts.models import User
    from audit.context import person_context
    from cmdb.services import NewCi, ci_create
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema

    admin = User.objects.get(email="admin@bench.test")
    slugs = list(customers)
    rows = user_rows(slugs, ONE_BY_ONE_USERS, "one")
    started = time.perf_counter()
    with person_context(admin, channel="api"):
        for row in rows:
            customer = customers[row["customer"]]
            with customer_schema(customer):
                customer_user_create(
                    customer=customer,
                    fields=CustomerUserFields(
                        email=row["email"], name=row["name"], role=row["role"], timezone=row["timezone"]
                    ),
                    password=None,
                    by=admin,
                )
    users = Timed("users, one by one (customer_user_create)", len(rows), time.perf_counter() - started)
    started = time.perf_counter()
    with person_context(admin, channel="api"), customer_schema(ci_customer):
        for n in range(ONE_BY_ONE_CIS):
            ci_create(
                customer=ci_customer,
                by=admin,
                new=NewCi(name=f"one-{n}", type="server", attributes={"row": n}),
            )
    cis = Timed("CIs, one by one (ci_create)", ONE_BY_ONE_CIS, time.perf_counter() - started)
    return users, cis


def setup() -> tuple[dict[str, Any], Any]:
    from django.core.management import call_command

    from accounts.services import AgentFields, agent_create
    from audit.context import job_context
    from tenants.services import customer_provision

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    started = time.perf_counter()
    with job_context(JOB):
        agent_create(
            fields=AgentFields(email="admin@bench.test", name="Bench Admin", is_admin=True), password=None
        )
        customers = {
            f"imp-{n:03d}": customer_provision(name=f"Import {n}", slug=f"imp-{n:03d}")
            for n in range(CUSTOMERS)
        }
        ci_customer = customer_provision(name="CMDB import", slug="imp-cmdb")
    log(f"==> {CUSTOMERS + 1} customers provisioned in {time.perf_counter() - started:.1f} s")
    return customers, ci_customer


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    import redis
    from django.conf import settings

    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


def run(_database_url: str) -> None:
    customers, ci_customer = setup()
    worker = start_worker()
    try:
        tag = uuid.uuid4().hex[:4]
        users = _csv("users", user_rows(list(customers), USERS, f"u{tag}-"))
        cis = _csv("cis", ci_rows(ci_customer.slug, CIS))
        log(f"==> files: {USERS:,} users ({len(users):,} bytes), {CIS:,} CIs ({len(cis):,} bytes)")
        run_import("warm-up", "users", _csv("users", user_rows(list(customers), 5, "warm")), dry_run=True)
        runs = [
            run_import(
                f"{USERS:,} users across {CUSTOMERS} customers, dry run", "users", users, dry_run=True
            ),
            run_import(f"{USERS:,} users across {CUSTOMERS} customers, real run", "users", users),
            run_import(f"the same {USERS:,} users again (all unchanged)", "users", users),
            run_import(f"{CIS:,} CIs in one customer, real run", "cis", cis),
        ]
    finally:
        stop_worker(worker)
    by_one = one_by_one(customers, ci_customer)
    report(runs, by_one)


def report(runs: list[Timed], by_one: tuple[Timed, Timed]) -> None:
    log("")
    log("CSV imports in a Celery worker (solo pool): seconds from enqueue to done as seen by a poller,")
    log("the worker's own seconds, rows per second (of the poller's time), and the longest gaps between")
    log("changes of the published progress (processed) and between heartbeats.")
    header = (
        f"{'run':<48} {'rows':>7} {'s':>7} {'worker s':>9} {'rows/s':>9} {'progress gap':>13} {'beat gap':>9}"
    )
    log(header)
    log("-" * len(header))
    for timed in runs:
        log(
            f"{timed.label:<48} {timed.rows:>7,} {timed.seconds:>7.2f} {timed.worker_seconds:>9.2f} "
            f"{timed.rate:>9,.0f} {timed.progress_gap:>12.2f}s {timed.heartbeat_gap:>8.2f}s  {timed.counts}"
        )
    for timed in by_one:
        log(f"{timed.label:<48} {timed.rows:>7,} {timed.seconds:>7.2f} {'':>9} {timed.rate:>9,.0f}")
    _dry, real, _again, ci_run = runs
    user_speedup = real.rate / by_one[0].rate if by_one[0].rate else 0.0
    ci_speedup = ci_run.rate / by_one[1].rate if by_one[1].rate else 0.0
    log(f"import / one by one: users {user_speedup:.1f}x, CIs {ci_speedup:.1f}x")
    gap = max(timed.progress_gap for timed in runs)
    print_verdict(
        [
            (
                f"the real {USERS:,}-user import <= {TARGET_USERS_SECONDS:g} s",
                real.seconds <= TARGET_USERS_SECONDS,
                f"{real.seconds:.2f} s",
            ),
            (
                f"the user import >= {TARGET_SPEEDUP:g} x the one-by-one rate",
                user_speedup >= TARGET_SPEEDUP,
                f"{user_speedup:.1f}x; CIs {ci_speedup:.1f}x",
            ),
            (
                f"progress moves at least every {TARGET_PROGRESS_GAP:g} s (every run)",
                gap <= TARGET_PROGRESS_GAP,
                f"longest gap {gap:.2f} s",
            ),
            (
                "re-importing the same file creates nothing",
                runs[2].counts.get("created") == 0 and runs[2].counts.get("unchanged") == USERS,
                str(runs[2].counts),
            ),
        ]
    )


def main() -> int:
    return in_bench_database(run, env={"CELERY_QUEUE": QUEUE, "CACHE_KEY_PREFIX": QUEUE})


if __name__ == "__main__":
    sys.exit(main())
