"""Automation rules benchmark (issue 19): what evaluating 50 rules per customer adds to each
ticket write, beside no rules.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it provisions two customers, each with a user,
three member agents and a ticket, and a provider admin who owns the rules.

The rules: RULES rules of the first customer made through ``automations.services.rule_create``
(half on "created", half on "updated"), each with one to three conditions on the fields a rule
looks at (subject words, status, priority, assignee, request type, a custom field) that the
benchmark's tickets never meet, so what is measured is the rules' evaluation on every write, not
their actions (those are ticket writes of their own, measured by the other benchmarks). The
second customer has no rules.

Measured: WRITES ticket creations (``ticket_create``) and as many updates (``ticket_reprioritise``,
the priority toggled), each its own transaction, through the workflows as the API calls them,
with the rules' after-commit run included in the time, in three modes interleaved write by write
(in a rotating order, so that drift and the machine's other load hit them alike): in the
customer with 50 rules; in the customer without rules; and there with the engine's hook removed
(no automations app at all, for information). Median and p95 per mode and kind, and what the
rules add to "no rules". Then the evaluation alone (``automations.engine.run_event`` on the
first customer's ticket: the cache read and the 50 rules' conditions), WRITES times per event.

Target: <= 3 ms added at p95 (creation and update).

Run: ``python3 dev.py bench rules``; ``--smoke`` for tiny sizes (it runs, its figures mean
nothing).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/rules: run as ``python bench/rules``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import in_bench_database, log, p95, print_verdict, purge_queue, smoke  # noqa: E402

SMOKE = smoke()
RULES = 50
WRITES = 40 if SMOKE else 1000  # per kind and mode
WARM_UP = 5 if SMOKE else 50
JOB = "bench.rules"
QUEUE = f"bench-rules-{os.getpid()}"
TARGET_ADDED_P95_MS = 3.0


def _conditions(n: int) -> list[dict[str, Any]]:
    """One to three conditions no bench ticket meets (the last one never holds)."""
    never: list[dict[str, Any]] = [
        {"field": "subject", "op": "contains", "value": f"never-{n}"},
        {"field": "priority", "op": "is", "value": "P1"},
        {"field": "status", "op": "in", "value": ["resolved", "closed"]},
        {"field": "fields.cost_centre", "op": "is", "value": f"CC-{n}"},
        {"field": "request_type", "op": "is", "value": 10_000 + n},
    ]
    maybe: list[dict[str, Any]] = [
        {"field": "assignee", "op": "is", "value": None},
        {"field": "subject", "op": "not_contains", "value": "urgent"},
    ]
    return [*maybe[: n % 3], never[n % len(never)]]


class Desk:
    """A customer with its requester and a ticket to update (``updates``: its priority flips)."""

    def __init__(self, customer: Any, requester: Any, ticket: Any) -> None:
        self.customer, self.requester, self.ticket = customer, requester, ticket
        self.updates = 0


def _desk(admin: Any, slug: str) -> Desk:
    from accounts.services import AgentFields, agent_create
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets import workflows

    customer = customer_provision(name=slug.title(), slug=slug)
    for n in range(3):
        agent_create(
            fields=AgentFields(email=f"agent{n}@{slug}.bench", name=f"Agent {n}", customers=(customer,)),
            password=None,
        )
    with customer_schema(customer):
        requester = customer_user_create(
            customer=customer,
            fields=CustomerUserFields(email=f"user@{slug}.bench", name="User", role="user"),
            password=None,
        )
        ticket = workflows.ticket_create(
            customer=customer, by=admin, new=workflows.NewTicket(subject="Bench ticket", requester=requester)
        )
    return Desk(customer, requester, ticket)


def setup() -> tuple[Any, Desk, Desk]:
    from django.core.management import call_command

    from accounts.services import AgentFields, agent_create
    from automations import services

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    admin = agent_create(
        fields=AgentFields(email="admin@msp.bench", name="Bench Admin", is_admin=True),
        password="rules-bench-password-1",  # noqa: S106 - a throw-away account
    )
    with_rules, without = _desk(admin, "rules"), _desk(admin, "plain")
    for n in range(RULES):
        fields = services.RuleFields(
            name=f"Rule {n}",
            event="created" if n % 2 == 0 else "updated",
            conditions=_conditions(n),
            actions=[{"action": "note", "body": f"Rule {n} matched."}],
        )
        services.rule_create(by=admin, customer=with_rules.customer, fields=fields)
    return admin, with_rules, without


MODES = ("rules", "none", "engine off")  # 50 rules; a customer without rules; the hook removed


def measure(admin: Any, with_rules: Desk, without: Desk) -> dict[str, list[float]]:
    from automations.engine import on_ticket_event, run_event
    from tenants.schema import customer_schema
    from tickets import hooks, workflows

    samples: dict[str, list[float]] = {
        f"{kind} {mode}": [] for kind in ("create", "update") for mode in (*MODES, "evaluation")
    }
    priorities = ("P3", "P4")

    def write(desk: Desk, mode: str | None) -> None:
        with customer_schema(desk.customer):
            started = time.perf_counter()
            workflows.ticket_create(
                customer=desk.customer,
                by=admin,
                new=workflows.NewTicket(subject="Printer jams", requester=desk.requester),
            )
            created = time.perf_counter()
            workflows.ticket_reprioritise(
                customer=desk.customer, ticket=desk.ticket, by=admin, priority=priorities[desk.updates % 2]
            )
            desk.updates += 1
            updated = time.perf_counter()
        if mode is not None:
            samples[f"create {mode}"].append(created - started)
            samples[f"update {mode}"].append(updated - created)

    for _ in range(WARM_UP):
        write(with_rules, None)
        write(without, None)
    for n in range(WRITES):
        # One write of each mode per round, in a rotating order: drift and the machine's other
        # load hit the three alike.
        for step in range(len(MODES)):
            mode = MODES[(n + step) % len(MODES)]
            if mode == "engine off":  # what a write costs without the automations app at all
                hooks._event_hooks.remove(on_ticket_event)
                try:
                    write(without, mode)
                finally:
                    hooks.after_ticket_event(on_ticket_event)
            else:
                write(with_rules if mode == "rules" else without, mode)
    # The evaluation alone, as each write's after-commit run does it (cache read, conditions).
    with customer_schema(with_rules.customer):
        for kind, event in (("create", "created"), ("update", "updated")):
            for _ in range(WRITES):
                started = time.perf_counter()
                run_event(with_rules.customer, with_rules.ticket, event)
                samples[f"{kind} evaluation"].append(time.perf_counter() - started)
    return samples


def run(_url: str) -> None:
    from audit.context import job_context
    from automations.models import RuleAction

    try:
        with job_context(JOB):
            admin, with_rules, without = setup()
            log(f"==> {RULES} rules; {WRITES} creations and {WRITES} updates per mode, interleaved")
            samples = measure(admin, with_rules, without)
    finally:
        purge_queue(QUEUE)
    acted = RuleAction.objects.count()
    header = f"{'write':<22} {'writes':>8} {'median':>8} {'p95':>8}"
    log("\nTicket writes through tickets.workflows, each its own transaction; ms per write.")
    log(header)
    log("-" * len(header))
    checks = []
    for kind in ("create", "update"):
        on, off, bare = (samples[f"{kind} {mode}"] for mode in MODES)
        labels = (f"{kind}, {RULES} rules", f"{kind}, no rules", f"{kind}, engine off")
        for label, values in zip(labels, (on, off, bare), strict=True):
            median, high = statistics.median(values) * 1000, p95(values) * 1000
            log(f"{label:<22} {len(values):>8} {median:>8.2f} {high:>8.2f}")
        added_median = (statistics.median(on) - statistics.median(off)) * 1000
        added_p95 = (p95(on) - p95(off)) * 1000
        log(f"added by {RULES} rules to a {kind}: median {added_median:.2f} ms, p95 {added_p95:.2f} ms")
        hook_median = (statistics.median(off) - statistics.median(bare)) * 1000
        log(f"  (the engine itself, no rules vs engine off: median {hook_median:.2f} ms)")
        alone = samples[f"{kind} evaluation"]
        log(
            f"  ({RULES} rules' evaluation alone, {len(alone)} runs: median "
            f"{statistics.median(alone) * 1000:.3f} ms, p95 {p95(alone) * 1000:.3f} ms)"
        )
        checks.append(
            (
                f"{RULES} rules add <= {TARGET_ADDED_P95_MS:g} ms at p95 to a ticket {kind}",
                added_p95 <= TARGET_ADDED_P95_MS,
                f"{added_p95:.2f} ms",
            )
        )
    log(f"rule actions taken during the run: {acted} (none expected: no bench ticket meets a rule)")
    print_verdict(checks)


def main() -> int:
    env = {
        "DEBUG": "0",  # no query logging, as deployed
        "SECRET_KEY": "bench-rules-" + os.urandom(16).hex(),
        "EMAIL_URL": "locmem:",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_QUEUE": QUEUE,  # each write's notification task, on a queue nothing reads (purged)
    }
    return in_bench_database(run, env=env)


if __name__ == "__main__":
    sys.exit(main())
