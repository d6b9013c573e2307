"""CMDB benchmark: the effective SLA policy of a CI deep in its parent chain.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it provisions one customer and loads 50,000 CIs into
its schema (model instances, ``bulk_create``): a chain of 21 CIs (the root holds an SLA policy,
the CI at depth 20 has 20 ancestors and none of them but the root has a policy) and a forest of
250 shallow trees (site, racks, servers, applications; most sites hold a policy, every 20th
server its own). Inside the customer's schema it then looks up the effective policy of the CI
at depth 20, LOOKUPS times after WARMUPS untimed rounds, in two ways, alternately:

- ours: load the CI by id, then ``cmdb.selectors.effective_policy`` (one recursive query);
- naive: load the CI by id, then its parent by id, one query per level, until a CI with a
  policy, then the policy (22 queries for depth 20).

Both must give the same answer (policy, deciding CI, depth) for the deep CI and for a sample of
the forest before anything is timed. For information it also times ``effective_policy`` on a
CI already in hand (the one query alone) and prints the query's EXPLAIN ANALYZE times.

Target: ours >= 5 x faster than the naive walk (median against median).

Run: ``python3 dev.py bench cmdb`` (or ``make bench-cmdb``; it runs this folder, ``bench/cmdb``).
``CMDB_BENCH_EXPLAIN=1`` also prints the whole plan of our query. ``--smoke`` for tiny sizes
(1,000 CIs, 20 lookups: it runs, its figures mean nothing).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/cmdb: run as ``python bench/cmdb``
BENCH = HERE.parent
ROOT = BENCH.parent
# The project first (its ``cmdb`` app, not this folder); bench/ last, for ``provision``.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import in_bench_database, log, p95, print_verdict, smoke  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
CIS = 1_000 if SMOKE else 50_000  # in the customer's schema, all told
DEPTH = 20  # of the measured CI: it has DEPTH ancestors
SITES = 10 if SMOKE else 250  # roots of the forest; 4 racks per site, 10 servers per rack, applications below
LOOKUPS, WARMUPS = (20, 5) if SMOKE else (1_000, 50)
AGREEMENT_SAMPLE = 50 if SMOKE else 500  # forest CIs whose answers must agree too
JOB = "bench.cmdb"
SLUG = "cmdb-bench"

TARGET_SPEEDUP = 5.0  # naive median / ours median


@dataclass
class Series:
    label: str
    queries: int  # statements per lookup, without django-tenants' SET search_path
    search_paths: int  # SET search_path statements per lookup
    samples: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        return p95(self.samples) * 1000


@dataclass
class Result:
    setup: dict[str, float]  # step -> seconds
    answer: Any  # cmdb.selectors.EffectivePolicy of the deep CI
    agreed: int  # CIs on which both ways gave the same answer
    ours: Series
    naive: Series
    in_hand: Series
    explain: list[str]


def create_policies() -> dict[str, int]:
    from sla.models import SlaPolicy

    targets = {"P1": {"first_response": 30, "resolution": 240}}
    names = {"chain": "Bench chain root", "standard": "Bench standard", "premium": "Bench premium"}
    names["own"] = "Bench server override"
    return {key: SlaPolicy.objects.create(name=name, targets=targets).pk for key, name in names.items()}


def chain(policies: dict[str, int]) -> list[Any]:
    """The chain (unsaved): ids 1 .. DEPTH + 1, each the parent of the next; only the root has
    a policy."""
    from cmdb.models import ConfigurationItem

    last = DEPTH + 1
    return [
        ConfigurationItem(
            id=g,
            name=f"chain-{g - 1:02d}",
            type="other" if g == 1 else "application" if g == last else "server",
            attributes={"level": g - 1},
            parent_id=g - 1 or None,
            sla_policy_id=policies["chain"] if g == 1 else None,
        )
        for g in range(1, last + 1)
    ]


def forest(policies: dict[str, int]) -> list[Any]:
    """The forest (unsaved): ids from DEPTH + 2 to CIS. SITES sites (level 0), 4 racks per site
    (1), 10 servers per rack (2), the rest applications spread over the servers (3). 9 sites in 10
    hold a policy (two kinds, in turn), every 20th server its own; every 50th application is in
    maintenance."""
    from cmdb.models import ConfigurationItem

    first, s = DEPTH + 2, SITES
    cis = []
    for ci_id in range(first, CIS + 1):
        i = ci_id - first
        level = 0 if i < s else 1 if i < 5 * s else 2 if i < 45 * s else 3
        parent = (
            None,
            first + (i - s) % s,
            first + s + (i - 5 * s) % (4 * s),
            first + 5 * s + (i - 45 * s) % (40 * s),
        )[level]
        policy = None
        if level == 0 and i % 10 != 9:
            policy = policies["standard"] if i % 2 == 0 else policies["premium"]
        elif level == 2 and i % 20 == 0:
            policy = policies["own"]
        cis.append(
            ConfigurationItem(
                id=ci_id,
                name=f"{('site', 'rack', 'srv', 'app')[level]}-{ci_id}",
                type=("other", "network", "server", "application")[level],
                status="maintenance" if level == 3 and i % 50 == 0 else "active",
                attributes={"level": level, "location": f"hall {i % 7}"},
                parent_id=parent,
                sla_policy_id=policy,
            )
        )
    return cis


def load_cis(customer: Any, policies: dict[str, int]) -> None:
    """CIS configuration items in ``customer``'s schema (model instances, so every column not
    set here gets the model's default: a column added later cannot break this), then ANALYZE.
    The new customer's public asset counts are moved by the same amounts (as the services would)."""
    from django.db import connection, transaction
    from django.db.models import Count
    from psycopg import sql

    from cmdb.inventory.services import counts_shift
    from cmdb.models import ConfigurationItem

    table = sql.Identifier(customer.schema_name, ConfigurationItem._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        ConfigurationItem.objects.bulk_create([*chain(policies), *forest(policies)], batch_size=5_000)
        # Explicit ids: move the shared CI id sequence on, so CIs created later do not collide.
        cursor.execute(
            "SELECT setval('public.cmdb_ci_id_seq', "
            "GREATEST(%s, (SELECT last_value FROM public.cmdb_ci_id_seq)))",
            [CIS],
        )
        rows = ConfigurationItem.objects.order_by().values_list("type", "status").annotate(n=Count("id"))
        counts_shift(customer=customer, delta=Counter({(t, s): n for t, s, n in rows}))
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("ANALYZE {}").format(table))


def setup() -> tuple[Any, dict[str, float]]:
    """The platform, one customer and its CIS CIs; returns the customer and the seconds per step."""
    from django.core.management import call_command

    from tenants.schema import customer_schema
    from tenants.services import customer_provision

    took: dict[str, float] = {}
    start = time.perf_counter()
    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    took["sync_platform"] = time.perf_counter() - start

    start = time.perf_counter()
    customer = customer_provision(name="CMDB bench", slug=SLUG)
    policies = create_policies()
    took["customer and policies"] = time.perf_counter() - start

    start = time.perf_counter()
    with customer_schema(customer):
        load_cis(customer, policies)
    took[f"{CIS:,} CIs (insert, ANALYZE)"] = time.perf_counter() - start
    log(f"==> {CIS:,} CIs in {customer.schema_name} in {took[f'{CIS:,} CIs (insert, ANALYZE)']:.1f} s")
    return customer, took


def naive_policy(ci_id: int) -> Any:
    """The same answer as ``effective_policy``, found by loading one CI per query up the chain."""
    from cmdb.models import ConfigurationItem
    from cmdb.selectors import EffectivePolicy
    from sla.models import SlaPolicy

    ci = ConfigurationItem.objects.get(pk=ci_id)
    origin, depth = ci.name, 0
    while ci.sla_policy_id is None and ci.parent_id is not None:
        ci = ConfigurationItem.objects.get(pk=ci.parent_id)
        depth += 1
    if ci.sla_policy_id is None:
        return EffectivePolicy(origin, None, None, None, None, None)
    policy = SlaPolicy.objects.get(pk=ci.sla_policy_id)
    return EffectivePolicy(origin, policy.pk, policy.name, ci.pk, ci.name, depth)


def our_policy(ci_id: int) -> Any:
    from cmdb.models import ConfigurationItem
    from cmdb.selectors import effective_policy

    return effective_policy(ConfigurationItem.objects.get(pk=ci_id))


def check_agreement(deep_id: int) -> tuple[Any, int]:
    """Both ways give the same answer for the deep CI and a sample of the forest; returns the
    deep CI's answer and how many CIs were compared. Raises if anything disagrees."""
    from cmdb.models import ConfigurationItem
    from cmdb.selectors import ancestors, effective_policies

    deep = ConfigurationItem.objects.get(pk=deep_id)
    if len(ancestors(deep)) != DEPTH:
        raise RuntimeError(f"{deep.name} has {len(ancestors(deep))} ancestors, not {DEPTH}")
    answer, naive = our_policy(deep_id), naive_policy(deep_id)
    if answer != naive or answer.depth != DEPTH or answer.decided_by_id != 1:
        raise RuntimeError(f"the deep CI's answers differ or are wrong:\n  ours  {answer}\n  naive {naive}")

    ids = random.Random(42).sample(range(DEPTH + 2, CIS + 1), AGREEMENT_SAMPLE)  # noqa: S311
    ours = effective_policies(ConfigurationItem.objects.filter(pk__in=ids))
    kinds: Counter[str] = Counter()
    for ci_id in ids:
        if ours[ci_id] != naive_policy(ci_id):
            raise RuntimeError(f"CI {ci_id}: ours {ours[ci_id]}, naive {naive_policy(ci_id)}")
        found = ours[ci_id]
        kinds["none" if found.policy_id is None else "own" if not found.depth else "inherited"] += 1
    log(f"    answers agree on the deep CI and {len(ids)} forest CIs ({dict(sorted(kinds.items()))})")
    return answer, 1 + len(ids)


def statements(action: Callable[[], object]) -> tuple[int, int, list[str]]:
    """What ``action`` sends: its statements, django-tenants' SET search_path among them (one
    per cursor) counted apart, and the SQL of the others."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    sent = [query["sql"] for query in captured.captured_queries]
    run = [text for text in sent if not text.startswith("SET search_path")]
    return len(run), len(sent) - len(run), run


def explain(query: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}")
        return [line for (line,) in cursor.fetchall()]


def measure(customer: Any, took: dict[str, float]) -> Result:
    from django.conf import settings
    from django.db import connection

    from cmdb.models import ConfigurationItem
    from cmdb.selectors import effective_policy
    from tenants.schema import customer_schema

    deep_id = DEPTH + 1
    with customer_schema(customer):
        answer, agreed = check_agreement(deep_id)
        loaded = ConfigurationItem.objects.get(pk=deep_id)

        def ours() -> object:
            return our_policy(deep_id)

        def naive() -> object:
            return naive_policy(deep_id)

        def in_hand() -> object:
            return effective_policy(loaded)

        ways = {"ours": ours, "naive": naive, "in_hand": in_hand}
        counts = {name: statements(way) for name, way in ways.items()}
        recursive = [text for text in counts["in_hand"][2] if text.lstrip().startswith("WITH RECURSIVE")]
        plan = explain(recursive[0]) if recursive else ["(our query was not captured)"]

        settings.DEBUG = False  # no query logging while timing
        connection.ensure_connection()
        samples: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(WARMUPS + LOOKUPS):
            for name, way in ways.items():  # in turn, so drift hits all three alike
                start = time.perf_counter()
                way()
                elapsed = time.perf_counter() - start
                if i >= WARMUPS:
                    samples[name].append(elapsed)

    return Result(
        setup=took,
        answer=answer,
        agreed=agreed,
        ours=Series("ours: load CI + effective_policy()", *counts["ours"][:2], samples["ours"]),
        naive=Series("naive: load CI, one query per parent", *counts["naive"][:2], samples["naive"]),
        in_hand=Series("ours, CI already loaded (information)", *counts["in_hand"][:2], samples["in_hand"]),
        explain=plan,
    )


def report(result: Result) -> None:
    log("")
    log("Setup:")
    for step, seconds in result.setup.items():
        log(f"    {step:<32} {seconds:6.1f} s")
    log("")
    log(f"Effective SLA policy of a CI at depth {DEPTH} among {CIS:,} CIs, one customer's schema,")
    log(f"{LOOKUPS:,} lookups each after {WARMUPS} warm-ups, in turn; ms per lookup (time.perf_counter).")
    log(f"Answer: {result.answer.reason}.")
    log("queries: statements per lookup; SET: django-tenants' SET search_path sent with them.")
    header = f"{'lookup':<40}  {'queries':>7}  {'SET':>3}  {'median ms':>9}  {'p95 ms':>7}"
    log(header)
    log("-" * len(header))
    for series in (result.ours, result.naive, result.in_hand):
        counts = f"{series.queries:>7}  {series.search_paths:>3}"
        log(f"{series.label:<40}  {counts}  {series.median_ms:>9.3f}  {series.p95_ms:>7.3f}")
    ratio = result.naive.median_ms / result.ours.median_ms
    ratio_p95 = result.naive.p95_ms / result.ours.p95_ms
    log(f"naive / ours: {ratio:.1f}x at the median, {ratio_p95:.1f}x at p95")

    timings = [
        line.strip() for line in result.explain if line.strip().startswith(("Planning T", "Execution T"))
    ]
    log(f"EXPLAIN ANALYZE of our query: {'; '.join(timings)}")
    if os.environ.get("CMDB_BENCH_EXPLAIN") == "1":
        for line in result.explain:
            log(f"    {line}")

    checks = [
        (
            f"both ways give the same policy, deciding CI and depth ({result.agreed} CIs)",
            True,  # check_agreement raised otherwise
            f"depth {result.answer.depth}",
        ),
        (
            f"ours >= {TARGET_SPEEDUP:g} x faster than walking parents one query at a time (medians)",
            ratio >= TARGET_SPEEDUP,
            f"{ratio:.1f}x",
        ),
    ]
    print_verdict(checks)


def run(_database_url: str) -> None:
    from audit.context import job_context

    with job_context(JOB):
        customer, took = setup()
        report(measure(customer, took))


def main() -> int:
    return in_bench_database(run)


if __name__ == "__main__":
    sys.exit(main())
