"""Search benchmark: ``GET /api/v1/search/?q=`` over 1,000 customers, 1,000,000 tickets and
3,000,000 comments, beside the same question asked as ILIKE over the customers' schemas.

In a throw-away database (``<name>_bench``, see bench/README.md) it provisions CUSTOMERS
customers (``customer_provision``, one customer user each). The first customer's TICKETS tickets
and 3 x TICKETS comments (two public replies, one private note each) are model instances saved
with ``bulk_create``, their words drawn from a fixed vocabulary with a fixed seed; every other
customer gets a set-based copy of them (``INSERT INTO <schema>.<table> SELECT * FROM <first
schema>.<table>``: all columns, so a column added later cannot break it), its own requester,
and, for one customer in ten, the rare word in one ticket. The public index and search rows are
then written set-based per customer from the tickets (``tickets.index.search.search_fill``,
the ``ticket_index`` rows through ``index_write``).

Term classes: rare (``kumquat``: one ticket in one customer out of ten, 0.01 %), common
(``printer``: ~30 % of the tickets), prefix (``netw``: network, networking, netwatch, ~10 %),
and a reference (``<PREFIX>-<n>`` of a customer the agent works). Each is asked by an agent of
every customer and by an agent of 10 customers: REQUESTS timed requests after WARMUPS through
Django's WSGI handler in-process (Bearer token, Host ``localhost``, DEBUG off). The ILIKE loop
asks the same (subject, description or a comment containing the word, newest 20) with one
UNION ALL statement per 100 schemas the agent works.

Reply: the time ``search_add_comment`` (what indexing adds to ``comment_add``) takes inside
the reply's transaction, for REPLIES replies to random tickets of random customers.

Targets: p95 <= 50 ms for every term class and both agents; the API >= 20 x faster than the
ILIKE loop (median against median, agent of every customer); <= 2 ms added to a reply (p95).

Run: ``python3 dev.py bench search``; ``--smoke`` for 3 customers of 200 tickets.
``SEARCH_BENCH_CUSTOMERS=100`` for a quicker look; ``SEARCH_BENCH_EXPLAIN=1`` prints the plans.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import in_bench_database, log, p95, print_verdict, smoke, wsgi_get  # noqa: E402

SMOKE = smoke()
CUSTOMERS = int(os.environ.get("SEARCH_BENCH_CUSTOMERS", "3" if SMOKE else "1000"))
TICKETS = 200 if SMOKE else 1000  # per customer
REQUESTS, WARMUPS = (5, 1) if SMOKE else (60, 5)
ILIKE_RUNS = 2 if SMOKE else 3
REPLIES = 20 if SMOKE else 300
MEMBER_OF = 10  # the second agent's customers
UNION_CHUNK = 100
JOB = "bench.search"
PASSWORD = "search-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database

TARGET_P95_MS = 50.0
TARGET_SPEEDUP = 20.0
TARGET_REPLY_MS = 2.0

RARE, COMMON, PREFIX = "kumquat", "printer", "netw"
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "pe", "di", "go", "ba", "fi")
TOPICS = ("network", "networking", "netwatch")


def vocabulary(rng: random.Random) -> list[str]:
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(3000)}
    return [*sorted(words), "réseau", "imprimante", "mot de passe", "vpn", "outlook", "laptop"]


def sentence(rng: random.Random, words: list[str], length: int) -> str:
    return " ".join(rng.choice(words) for _ in range(length))


def first_customer_rows(profile: Any, agent: Any) -> tuple[list[Any], list[list[tuple[str, bool]]]]:
    """TICKETS tickets (unsaved model instances) and each one's three comments (body, public)."""
    from datetime import timedelta

    from django.utils import timezone

    from tickets.models import Ticket

    rng = random.Random("bench-search")  # noqa: S311 - fixed seed, not security
    words = vocabulary(rng)
    now = timezone.now()
    tickets, threads = [], []
    for n in range(1, TICKETS + 1):
        subject = sentence(rng, words, 4)
        description = sentence(rng, words, 14)
        if rng.random() < 0.30:
            subject = f"{COMMON} {subject}" if rng.random() < 0.5 else subject
            description = f"{description} {COMMON}"
        if rng.random() < 0.10:
            description = f"{rng.choice(TOPICS)} {description}"
        created = now - timedelta(days=180) + timedelta(seconds=n * 180 * 86400 / TICKETS)
        tickets.append(
            Ticket(
                number=n,
                subject=subject[:200],
                description=description,
                status=rng.choice(("open", "pending", "resolved", "closed")),
                priority=rng.choice(("P1", "P2", "P3", "P3", "P4")),
                requester=profile,
                requester_user=profile.user,
                assignee=agent if rng.random() < 0.6 else None,
                created_by_job=JOB,
                last_public_from="agent",
                created_at=created,
                updated_at=created,
                closed_at=created,
            )
        )
        threads.append(
            [
                (sentence(rng, words, 10), True),
                (sentence(rng, words, 10), True),
                (sentence(rng, words, 8), False),
            ]
        )
    return tickets, threads


def fill(agent: Any, member: Any, done: list[Any] | None = None) -> list[Any]:
    """Every customer with its tickets, comments, index and search rows; returns them. ``done``:
    the customers an interrupted fill made already (in order), to go on from."""
    from django.db import connection, transaction
    from psycopg import sql

    from accounts.models import AgentMembership
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets.index.search import search_fill
    from tickets.index.services import index_write
    from tickets.models import Comment, Ticket, TicketNumber

    customers: list[Any] = list(done or [])
    started = time.perf_counter()
    for number in range(len(customers) + 1, CUSTOMERS + 1):
        slug = f"s{number:04d}"
        with transaction.atomic():
            customer = customer_provision(name=f"Search bench {number}", slug=slug)
            with customer_schema(customer):
                fields = CustomerUserFields(email=f"user@{slug}.bench", name=f"User {number}")
                profile = customer_user_create(customer=customer, fields=fields, password=PASSWORD)
                if number == 1:
                    tickets, threads = first_customer_rows(profile, agent)
                    tickets = Ticket.objects.bulk_create(tickets, batch_size=2000)
                    Comment.objects.bulk_create(
                        [
                            Comment(
                                ticket=ticket,
                                body=body,
                                public=public,
                                author=agent,
                                author_party="agent",
                                created_at=ticket.created_at,
                            )
                            for ticket, thread in zip(tickets, threads, strict=True)
                            for body, public in thread
                        ],
                        batch_size=5000,
                    )
                else:
                    source = customers[0].schema_name
                    with connection.cursor() as cursor:
                        for model in (Ticket, Comment):
                            table = model._meta.db_table
                            cursor.execute(
                                sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                                    sql.Identifier(customer.schema_name, table), sql.Identifier(source, table)
                                )
                            )
                        cursor.execute(
                            sql.SQL("UPDATE {} SET requester_user_id = %s").format(
                                sql.Identifier(customer.schema_name, Ticket._meta.db_table)
                            ),
                            [profile.user_id],
                        )
                        if number % 10 == 2:  # the rare word, in one ticket of one customer in ten
                            cursor.execute(
                                sql.SQL(
                                    "UPDATE {} SET description = description || ' ' || %s WHERE number = %s"
                                ).format(sql.Identifier(customer.schema_name, Ticket._meta.db_table)),
                                [RARE, 1 + number % TICKETS],
                            )
                TicketNumber.objects.update_or_create(pk=1, defaults={"last_number": TICKETS})
                index_write(customer=customer, tickets=Ticket.objects.select_related("requester_user"))
                search_fill(customer=customer)
            if number <= MEMBER_OF:
                AgentMembership.objects.create(agent=member, customer=customer)
        customers.append(customer)
        if number % 100 == 0 or number == CUSTOMERS:
            took = time.perf_counter() - started
            log(f"    {number} customers filled ({took:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE ticket_search")
        cursor.execute(
            "ANALYZE ticket_index, tenants_customer, tenants_customersettings, accounts_agentmembership"
        )
    return customers


def ms(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, p95(samples) * 1000


def time_search(handler: Any, token: str, query: str, expect: int | None) -> list[float]:
    samples = []
    for i in range(WARMUPS + REQUESTS):
        took, code, _, body = wsgi_get(handler, "/api/v1/search/", urlencode({"q": query}), token)
        results = json.loads(body)["results"] if code == 200 else None
        if results is None or (expect is not None and (not results or results[0]["ticket"] != expect)):
            raise RuntimeError(f"search {query!r} answered {code}: {body[:300]!r}")
        if not results:
            raise RuntimeError(f"search {query!r} found nothing")
        if i >= WARMUPS:
            samples.append(took)
    return samples


ILIKE_BRANCH = """
    SELECT {customer}::bigint AS customer_id, t.id, t.created_at
      FROM {tickets} AS t
     WHERE t.subject ILIKE {pattern} OR t.description ILIKE {pattern}
        OR EXISTS (SELECT 1 FROM {comments} AS c WHERE c.ticket_id = t.id AND c.body ILIKE {pattern})"""


def ilike_statements(customers: list[Any], word: str) -> list[Any]:
    """The newest 20 tickets holding ``word`` anywhere (ILIKE), one UNION ALL per 100 schemas."""
    from psycopg import sql

    pattern = sql.Literal(f"%{word}%")
    statements = []
    for first in range(0, len(customers), UNION_CHUNK):
        branches = [
            sql.SQL(ILIKE_BRANCH).format(
                customer=sql.Literal(customer.pk),
                tickets=sql.Identifier(customer.schema_name, "tickets_ticket"),
                comments=sql.Identifier(customer.schema_name, "tickets_comment"),
                pattern=pattern,
            )
            for customer in customers[first : first + UNION_CHUNK]
        ]
        statements.append(
            sql.SQL("SELECT * FROM ({}) AS q ORDER BY created_at DESC, id DESC LIMIT 20").format(
                sql.SQL(" UNION ALL ").join(branches)
            )
        )
    return statements


def time_ilike(customers: list[Any], word: str) -> list[float]:
    from django.db import connection

    samples = []
    with connection.cursor() as cursor:
        for _ in range(ILIKE_RUNS):
            start = time.perf_counter()
            for statement in ilike_statements(customers, word):
                cursor.execute(statement)
                cursor.fetchall()
            samples.append(time.perf_counter() - start)
    return samples


def time_replies(customers: list[Any]) -> list[float]:
    """What indexing adds to a reply: ``search_add_comment`` inside the reply's transaction."""
    from django.db import transaction

    from tenants.schema import customer_schema
    from tickets.index.search import search_add_comment
    from tickets.models import Ticket

    rng = random.Random("bench-search-replies")  # noqa: S311
    samples = []
    for _ in range(REPLIES):
        customer = rng.choice(customers)
        with customer_schema(customer), transaction.atomic():
            ticket = Ticket.objects.get(number=rng.randint(1, TICKETS))
            start = time.perf_counter()
            search_add_comment(
                customer=customer, ticket=ticket, body="Thanks, the printer works again now", public=True
            )
            samples.append(time.perf_counter() - start)
            transaction.set_rollback(True)
    return samples


def explain(user: Any, query: str) -> None:
    """EXPLAIN ANALYZE of the search statement ``user``'s query runs."""
    from django.db import connection

    from tickets.index.search import Filters, parse_query, reader_of, search_page

    parsed = parse_query(query)
    assert parsed is not None

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("WITH q AS"):
            with connection.cursor() as plan:
                plan.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                log(f"\nPlan for {query!r} ({user.email}):")
                for (line,) in plan.fetchall():
                    log(f"    {line}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        search_page(reader_of(user), parsed, Filters(), offset=0, size=20)


def run() -> bool:
    from django.conf import settings
    from django.core.management import call_command

    from accounts.services import AgentFields, agent_create
    from audit.context import job_context

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    settings.DEBUG = False  # no query logging in the measured requests
    with job_context(JOB):
        everyone = agent_create(
            fields=AgentFields(email="all@msp.bench", name="All Agent", all_customers=True), password=PASSWORD
        )
        member = agent_create(fields=AgentFields(email="ten@msp.bench", name="Ten Agent"), password=PASSWORD)
        log(f"==> filling {CUSTOMERS} customers x {TICKETS} tickets, {3 * TICKETS} comments each")
        customers = fill(everyone, member)
    return measure(everyone, member, customers)


def measure(everyone: Any, member: Any, customers: list[Any]) -> bool:
    """The timings over the filled platform, the report and the verdict."""
    from django.core.handlers.wsgi import WSGIHandler

    from accounts.services import token_issue
    from audit.context import job_context
    from tickets.index.models import TicketIndexEntry, TicketSearchEntry
    from tickets.index.services import ticket_prefix

    with job_context(JOB):
        tokens = {
            "every customer": token_issue(user=everyone, name="bench")[1],
            f"{MEMBER_OF} customers": token_issue(user=member, name="bench")[1],
        }
        replies = time_replies(customers)
    total = TicketSearchEntry.objects.count()
    comments = len(customers) * 3 * TICKETS
    load = os.getloadavg()
    log(
        f"==> {len(customers)} customers, {total:,} tickets indexed, {comments:,} comments;"
        f" load {load[0]:.1f}"
    )
    handler = WSGIHandler()
    mid = customers[min(len(customers) - 1, 4)]  # within the agent of 10's customers too
    target = TicketIndexEntry.objects.get(customer=mid, ticket_id=TICKETS // 2)
    reference = f"{ticket_prefix(mid)}-{TICKETS // 2}"
    terms = [
        ("rare", RARE, None),
        ("common", COMMON, None),
        ("prefix", PREFIX, None),
        ("reference", reference, target.ticket_id),
    ]
    rows = []
    for agent_name, token in tokens.items():
        for label, query, expect in terms:
            samples = time_search(handler, token, query, expect)
            rows.append((agent_name, label, query, *ms(samples)))
    ilike = {}
    for label, query, _ in terms:
        ilike[label] = ms(time_ilike(customers, query))
    if os.environ.get("SEARCH_BENCH_EXPLAIN") == "1":
        for _, query, _ in terms:
            explain(everyone, query)
            explain(member, query)
    log(f"    load after the timings {os.getloadavg()[0]:.1f}")
    return report(rows, ilike, ms(replies))


def report(
    rows: list[tuple[Any, ...]], ilike: dict[str, tuple[float, float]], reply: tuple[float, float]
) -> bool:
    log("")
    log(
        "GET /api/v1/search/?q= through Django's WSGI handler (DEBUG off),"
        f" {REQUESTS} timed requests after {WARMUPS}; ms"
    )
    log(f"{'agent of':<16}{'term':<11}{'query':<14}{'median':>9}{'p95':>9}{'ILIKE med':>11}{'ratio':>9}")
    log("-" * 79)
    speedups = []
    for agent_name, label, query, median, high in rows:
        ilike_med = ilike[label][0]
        ratio = ilike_med / median if median else 0.0
        if agent_name == "every customer":
            speedups.append(ratio)
        log(
            f"{agent_name:<16}{label:<11}{query[:13]:<14}{median:>9.1f}{high:>9.1f}{ilike_med:>11.0f}{ratio:>8.0f}x"
        )
    log(
        "ILIKE: the same text in the subject, description or any comment, newest 20, over every"
        f" customer's schema (one UNION ALL per {UNION_CHUNK}); median of {ILIKE_RUNS} runs."
    )
    log(
        f"Indexing added to a reply (search_add_comment in the reply's transaction, {REPLIES} replies):"
        f" median {reply[0]:.3f} ms, p95 {reply[1]:.3f} ms"
    )
    worst = max(row[4] for row in rows)
    checks = [
        (
            f"p95 <= {TARGET_P95_MS:g} ms for every term class and both agents",
            worst <= TARGET_P95_MS,
            f"worst {worst:.1f} ms",
        ),
        (
            f"API >= {TARGET_SPEEDUP:g} x faster than the ILIKE loop (agent of every customer)",
            min(speedups) >= TARGET_SPEEDUP,
            f"worst {min(speedups):.0f}x",
        ),
        (
            f"indexing adds <= {TARGET_REPLY_MS:g} ms to a reply (p95)",
            reply[1] <= TARGET_REPLY_MS,
            f"{reply[1]:.3f} ms",
        ),
    ]
    return print_verdict(checks)


def main() -> int:
    env = {"CELERY_QUEUE": f"bench-search-{os.getpid()}", "CACHE_KEY_PREFIX": f"bench-search-{os.getpid()}"}
    return in_bench_database(lambda _url: run(), env=env)


if __name__ == "__main__":
    sys.exit(main())
