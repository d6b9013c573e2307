"""Load benchmark (issue 20): a Locust scenario against gunicorn for 5 minutes, with the Celery
worker, beat and the SMTP listener running, on the machine's 2 cores, loopback only.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped and
re-created at start, dropped at the end) it seeds the world with the app's own services:
CUSTOMERS customers (``customer_provision``), CUSTOMER_USERS customer users spread over them
(``customer_user_create``), AGENTS full-time agents (``agent_create``; ALL_AGENTS of them work
every customer, the others are members of MEMBER_OF customers each) and TICKETS_PER_CUSTOMER
tickets per customer (``ticket_create``, each assigned to one of the customer's agents); every
person gets an API token (``token_issue``) and a signed-in session (the session row
``django.contrib.auth.login`` writes; signing 2,200 people in over HTTP would spend minutes of
PBKDF2 before the run).

Then it starts, DEBUG off, the processes a deployment runs: gunicorn as ``docker/entrypoint.sh
web`` does plus ``--worker-class gthread --threads 4`` (2 workers x 4 threads: one thread per
pooled database connection, DB_POOL_MAX_SIZE 4, and a thread can serve while another waits on
the database), a Celery worker (prefork, concurrency 2, as ``dev.py run``), beat with the
production schedule (SLA sweep every 30 s and the other jobs) and ``manage.py mail_server``. The
notifications of the seeded tickets are drained before the clock starts.

The run: Locust headless (``bench/load/locustfile.py``, its own process), one Locust user per
agent and LOCUST_CUSTOMERS customer sessions, spawned at SPAWN_RATE per second (each starting
after a random part of a think time, WAIT), for RUN_SECONDS; meanwhile one mail every MAIL_EVERY
seconds arrives over SMTP (``smtplib``, from a seeded customer user: a new ticket to the
customer's address or a reply to one of their tickets' reply address) and ``pg_stat_activity``
is sampled every POLL_SECONDS for the bench database's connections.
Afterwards the worker's queue is let drain and every mail must have become a ticket or comment.

Prints: requests, throughput, per-endpoint count / p50 / p95 / p99 / errors (from every sample,
not Locust's rounded buckets), database connections (open and in use: max, mean), mail, the beat
jobs the worker ran, and the verdict.

Targets: zero errors (HTTP, SMTP, mail processing, worker tasks); p95 <= 100 ms for queue,
search, ticket page and ticket create; at least TARGET_THROUGHPUT requests per second.

Run: ``python3 dev.py bench load`` (about 8 minutes); ``--smoke``: a tiny world for 20 s (it
runs, its figures mean nothing). ``LOAD_BENCH_SECONDS`` sets another run time, ``LOAD_BENCH_WAIT``
("min,max" seconds) the think time between a Locust user's tasks (a heavier load: "10,30").
"""

from __future__ import annotations

import json
import os
import random
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/load: run as ``python bench/load``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import free_port, in_bench_database, log, print_verdict, purge_queue, served, smoke  # noqa: E402

SMOKE = smoke()
CUSTOMERS = 3 if SMOKE else 100
CUSTOMER_USERS = 12 if SMOKE else 2000
AGENTS = 4 if SMOKE else 200
ALL_AGENTS = 1 if SMOKE else 20  # agents who work every customer
MEMBER_OF = 2 if SMOKE else 10  # customers of each other agent
TICKETS_PER_CUSTOMER = 4 if SMOKE else 10
RUN_SECONDS = int(os.environ.get("LOAD_BENCH_SECONDS", "20" if SMOKE else "300"))
LOCUST_CUSTOMERS = 4 if SMOKE else 200  # customer users online at once (each task as one drawn at random)
SPAWN_RATE = 20
# Seconds between a Locust user's tasks ("min,max"), agents and customer sessions alike: about
# 17 requests per second offered in all (an agent's task is 4 requests on average).
WAIT = os.environ.get("LOAD_BENCH_WAIT", "1,3" if SMOKE else "30,90")
MAIL_EVERY = 1.0 if SMOKE else 2.0  # seconds between two inbound mails
POLL_SECONDS = 0.5
DRAIN_SECONDS = 60 if SMOKE else 300  # for the worker's queue to empty (before and after the run)
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 4
WORKER_CONCURRENCY = 2
JOB = "bench.load"
QUEUE = f"bench-load-{os.getpid()}"
PASSWORD = "load-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database
SECRET_KEY = "bench-load-" + os.urandom(16).hex()  # shared by this process (sessions, reply
# addresses) and the servers it starts

TARGET_P95_MS = 100.0
TARGETED = ("queue", "search", "ticket page", "ticket create")
TARGET_THROUGHPUT = 1.0 if SMOKE else 12.0  # requests per second over the run (below what is offered:
# a saturated server answers fewer)

WORDS = ("printer", "vpn", "laptop", "mailbox", "password", "monitor", "wifi", "badge", "backup", "invoice")


# --- the world ------------------------------------------------------------------------------------


@dataclass
class Person:
    """A customer user as the mail sender and the Locust scenario see them."""

    email: str
    name: str
    customer: Any
    entry: dict[str, Any]  # the scenario's view: slug, host, token, session, ticket ids


def session_for(user: Any) -> str:
    """A signed-in session, the row ``django.contrib.auth.login`` writes for ``user``."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


def seed() -> tuple[dict[str, Any], list[Person]]:
    """The world, made by the app's services; returns the scenario's JSON view and the senders."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import AgentFields, agent_create, token_issue
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision
    from tickets.workflows import NewTicket, ticket_create

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    rng = random.Random(20)  # noqa: S311 - fixed seed, not security
    started = time.perf_counter()
    customers = [customer_provision(name=f"Load {n}", slug=f"load-{n:03d}") for n in range(CUSTOMERS)]
    log(f"    {CUSTOMERS} customers in {time.perf_counter() - started:.0f} s")

    agents: list[dict[str, Any]] = []
    members: dict[int, list[Any]] = {customer.pk: [] for customer in customers}
    for n in range(AGENTS):
        every = n < ALL_AGENTS
        works = customers if every else rng.sample(customers, MEMBER_OF)
        agent = agent_create(
            fields=AgentFields(
                email=f"agent{n}@msp.load.test",
                name=f"Agent {n}",
                all_customers=every,
                customers=tuple(works),
            ),
            password=PASSWORD,
        )
        for customer in works:
            members[customer.pk].append(agent)
        agents.append(
            {"id": agent.pk, "token": token_issue(user=agent, name="load")[1], "session": session_for(agent)}
        )
    log(f"    {AGENTS} agents ({ALL_AGENTS} with every customer) at {time.perf_counter() - started:.0f} s")

    people: list[Person] = []
    for n in range(CUSTOMER_USERS):
        customer = customers[n % CUSTOMERS]
        with customer_schema(customer):
            fields = CustomerUserFields(email=f"user{n}@{customer.slug}.load.test", name=f"User {n}")
            profile = customer_user_create(customer=customer, fields=fields, password=PASSWORD)
        user = profile.user
        entry = {
            "slug": customer.slug,
            "host": f"{customer.slug}.localhost",
            "token": token_issue(user=user, name="load")[1],
            "session": session_for(user),
            "tickets": [],
            "profile": profile,
        }
        people.append(Person(email=user.email, name=user.name, customer=customer, entry=entry))
    log(f"    {CUSTOMER_USERS} customer users at {time.perf_counter() - started:.0f} s")

    for c, customer in enumerate(customers):
        requesters = people[c::CUSTOMERS]
        with customer_schema(customer):
            for n in range(TICKETS_PER_CUSTOMER):
                person = requesters[n % len(requesters)]
                new = NewTicket(
                    subject=f"{WORDS[n % len(WORDS)].capitalize()} does not work ({n})",
                    description=f"Since this morning the {WORDS[(n + 3) % len(WORDS)]} shows an error.",
                    priority=("P2", "P3", "P3", "P4")[n % 4],
                    requester=person.entry["profile"],
                    assignee=rng.choice(members[customer.pk]),
                )
                person.entry["tickets"].append(ticket_create(customer=customer, by=None, new=new).pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"    {CUSTOMERS * TICKETS_PER_CUSTOMER} tickets; seeded in {time.perf_counter() - started:.0f} s")
    for person in people:
        del person.entry["profile"]
    world = {"agents": agents, "customer_users": [p.entry for p in people], "words": list(WORDS)}
    return world, people


# --- the processes --------------------------------------------------------------------------------


def process_env(mail_dir: str) -> dict[str, str]:
    from django.conf import settings

    return os.environ | {
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",  # as deployed: no query logging
        "EMAIL_URL": f"file://{mail_dir}",  # the notifications' mail, to files
        "SECURE_SSL_REDIRECT": "0",
        "PYTHONUNBUFFERED": "1",
        # smoke: no collectstatic (bench/load/smoke_settings.py)
        **({"DJANGO_SETTINGS_MODULE": "bench.load.smoke_settings"} if SMOKE else {}),
    }


def log_path(name: str) -> Path:
    """Where ``served`` writes the output of the process ``name``."""
    return Path(tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"


def logged(name: str, text: str) -> bool:
    path = log_path(name)
    return path.exists() and text in path.read_text(errors="replace")


def http_status(port: int, path: str) -> int:
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def smtp_greets(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(64).startswith(b"220")


def static_collected() -> bool:
    """Whether ``var/static`` holds a manifest newer than the project's static files and the lock
    file (the packages' static files change only with it): compressing them all again costs
    about 50 s of CPU."""
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        return False
    sources = [
        ROOT / "uv.lock",
        *(p for d in settings.STATICFILES_DIRS for p in Path(d).rglob("*") if p.is_file()),
    ]
    return manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources)


@contextmanager
def deployment(env: dict[str, str], schedule: Path) -> Iterator[tuple[int, int]]:
    """gunicorn, the Celery worker, beat and the SMTP listener; yields the web and SMTP ports."""
    web_port, smtp_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    celery = [str(bin_dir / "celery"), "-A", "serviflow"]
    web = [str(bin_dir / "gunicorn"), "serviflow.wsgi:application", "--bind", f"127.0.0.1:{web_port}"]
    web += [
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-tmp-dir",
        "/dev/shm",  # noqa: S108 - as docker/entrypoint.sh
        "--access-logfile",
        "-",
    ]
    web += ["--worker-class", "gthread", "--threads", str(GUNICORN_THREADS)]
    worker = [*celery, "worker", "-l", "INFO", "--concurrency", str(WORKER_CONCURRENCY)]
    beat = [*celery, "beat", "-l", "INFO", "-s", str(schedule)]
    mail = [sys.executable, "manage.py", "mail_server", "--host", "127.0.0.1", "--port", str(smtp_port)]
    if not SMOKE and not static_collected():  # DEBUG off: pages name their files from the manifest
        log("==> collectstatic, as the image's build does (minutes; again when static/ or uv.lock change)")
        collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"]
        subprocess.run(collect, cwd=ROOT, env=env, check=True)
    with ExitStack() as stack:
        stack.enter_context(
            served(
                web,
                name="load-web",
                env=env,
                cwd=ROOT,
                ready=lambda: http_status(web_port, "/healthz") == 200,
            )
        )
        stack.enter_context(
            served(
                worker, name="load-worker", env=env, cwd=ROOT, ready=lambda: logged("load-worker", " ready.")
            )
        )
        stack.enter_context(
            served(
                beat, name="load-beat", env=env, cwd=ROOT, ready=lambda: logged("load-beat", "beat: Starting")
            )
        )
        stack.enter_context(
            served(mail, name="load-mail", env=env, cwd=ROOT, ready=lambda: smtp_greets(smtp_port))
        )
        yield web_port, smtp_port


def queue_empty() -> bool:
    """Nothing of the benchmark's queue waits or is being worked on (acks late: a task stays in
    ``unacked`` until it is done)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    if int(client.llen(QUEUE)) != 0:
        return False
    values: list[bytes | str] = list(client.hvals("unacked"))
    return not any(QUEUE in (value.decode() if isinstance(value, bytes) else value) for value in values)


def drain(what: str) -> float:
    started = time.perf_counter()
    deadline = time.monotonic() + DRAIN_SECONDS
    while not queue_empty():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker's queue did not drain within {DRAIN_SECONDS} s ({what})")
        time.sleep(0.2)
    return time.perf_counter() - started


# --- during the run: mail and connections ---------------------------------------------------------


@dataclass
class Mail:
    latencies: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    replies: int = 0


def inbound_mail(n: int, person: Person) -> tuple[str, bytes, bool]:
    """Mail ``n`` from ``person``: a reply to one of their tickets (odd ``n``, when they have
    one) or a new ticket; returns the recipient, the bytes and whether it is a reply."""
    from mail.addresses import customer_address, reply_address

    tickets = person.entry["tickets"]
    reply = bool(n % 2 and tickets)
    to = (
        reply_address(person.customer, tickets[n % len(tickets)])
        if reply
        else customer_address(person.customer)
    )
    message = EmailMessage()
    message["From"] = f"{person.name} <{person.email}>"
    message["To"] = to
    message["Subject"] = f"{'Re: ' if reply else ''}{WORDS[n % len(WORDS)].capitalize()} trouble ({n})"
    message["Message-ID"] = f"<load.{os.getpid()}.{n}@client.load.test>"
    message.set_content(f"Hello,\n\nthe {WORDS[n % len(WORDS)]} still shows an error.\n\n{person.name}\n")
    return to, message.as_bytes(policy=SMTP), reply


def send_mail(port: int, people: list[Person], stop: threading.Event, sent: Mail) -> None:
    """One mail every MAIL_EVERY seconds over one SMTP connection (a new one after a refusal)."""
    rng = random.Random(7)  # noqa: S311 - fixed seed, not security
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
    n = 0
    try:
        while not stop.wait(MAIL_EVERY):
            person = rng.choice(people)
            to, raw, reply = inbound_mail(n, person)
            n += 1
            start = time.perf_counter()
            try:
                smtp.sendmail(person.email, [to], raw)
            except smtplib.SMTPException as exc:
                sent.refused.append(f"{type(exc).__name__}: {exc}"[:200])
                smtp.close()
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
                continue
            sent.latencies.append(time.perf_counter() - start)
            sent.replies += reply
    finally:
        smtp.close()


def cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU time so far (``/proc/stat``): how busy the cores were
    during the run, this benchmark's processes and anything else on the machine together."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Connections:
    open: list[int] = field(default_factory=list)
    in_use: list[int] = field(default_factory=list)  # active or idle in a transaction
    limit: int = 0


def poll_connections(database_url: str, stop: threading.Event, seen: Connections) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        seen.limit = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        while not stop.wait(POLL_SECONDS):
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            assert row is not None
            seen.open.append(int(row[0]))
            seen.in_use.append(int(row[1]))


def locust(web_port: int, world: Path, results: Path, out: Path) -> None:
    users = len(json.loads(world.read_text())["agents"]) + LOCUST_CUSTOMERS
    command = [str(Path(sys.executable).parent / "locust"), "-f", str(HERE / "locustfile.py"), "--headless"]
    command += ["--host", f"http://127.0.0.1:{web_port}", "--users", str(users)]
    command += ["--spawn-rate", str(SPAWN_RATE), "--run-time", f"{RUN_SECONDS}s", "--stop-timeout", "10"]
    command += ["--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = os.environ | {
        "LOAD_WORLD": str(world),
        "LOAD_RESULTS": str(results),
        "LOAD_AGENT_WAIT": WAIT,
        "LOAD_CUSTOMER_WAIT": WAIT,
        "LOAD_CUSTOMER_USERS": str(LOCUST_CUSTOMERS),
    }
    with out.open("wb") as output:
        code = subprocess.run(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=RUN_SECONDS + 120
        ).returncode
    if code != 0 or not results.exists():
        raise RuntimeError(f"locust failed ({code}):\n{out.read_text(errors='replace')[-3000:]}")


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    busy: float  # share of the machine's CPU time that was busy during the run
    samples: list[tuple[str, float, str | None]]
    connections: Connections
    mail: Mail
    mail_states: Counter[str]
    tasks: Counter[tuple[str, str]]  # (task, succeeded|failed) from the worker's log
    drained_before: float
    drained_after: float


TASK_LINE = re.compile(r"Task ([\w.]+)\[[^\]]+\] (succeeded|raised|failed)")


def worker_tasks() -> Counter[tuple[str, str]]:
    text = log_path("load-worker").read_text(errors="replace")
    return Counter(
        (name, "succeeded" if how == "succeeded" else "failed") for name, how in TASK_LINE.findall(text)
    )


def run(database_url: str) -> Outcome:
    from django.conf import settings
    from django.db import close_old_connections
    from django.test.utils import override_settings

    from audit.context import job_context
    from mail.models import InboundMessage

    settings.DEBUG = False
    # A fast hasher for the throw-away accounts: nobody signs in with a password here.
    with (
        job_context(JOB),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
    ):
        world, people = seed()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        tmp = Path(folder)
        world_file, results = tmp / "world.json", tmp / "results.json"
        world_file.write_text(json.dumps(world))
        env = process_env(str(tmp))
        try:
            with deployment(env, tmp / "celerybeat-schedule") as (web_port, smtp_port):
                log(
                    f"==> gunicorn ({GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads),"
                    f" Celery worker (prefork {WORKER_CONCURRENCY}), beat and mail_server up; queue {QUEUE}"
                )
                before = drain("the seeded tickets' notifications")
                log(f"    the seeded tickets' notifications drained in {before:.0f} s")
                first_mail = InboundMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                close_old_connections()
                stop, mail, connections = threading.Event(), Mail(), Connections()
                threads = [
                    threading.Thread(target=send_mail, args=(smtp_port, people, stop, mail)),
                    threading.Thread(target=poll_connections, args=(database_url, stop, connections)),
                ]
                log(
                    f"==> Locust: {AGENTS} agents and {LOCUST_CUSTOMERS} customer sessions"
                    f" for {RUN_SECONDS} s; one mail every {MAIL_EVERY:g} s"
                )
                started, ticks = time.perf_counter(), cpu_ticks()
                for thread in threads:
                    thread.start()
                try:
                    locust(web_port, world_file, results, tmp / "locust.log")
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join()
                seconds = time.perf_counter() - started
                busy, total = (now - then for now, then in zip(cpu_ticks(), ticks, strict=True))
                after = drain("the run's mail and notifications")
                close_old_connections()
                states = Counter(
                    InboundMessage.objects.filter(pk__gt=first_mail).values_list("state", flat=True)
                )
                tasks = worker_tasks()
        finally:
            purge_queue(QUEUE)
        samples = [(name, ms, error) for name, ms, error in json.loads(results.read_text())]
    return Outcome(seconds, busy / total, samples, connections, mail, states, tasks, before, after)


# --- the report -----------------------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(outcome: Outcome) -> None:
    by_name: dict[str, list[tuple[float, str | None]]] = {}
    for name, ms, error in outcome.samples:
        by_name.setdefault(name, []).append((ms, error))
    total = len(outcome.samples)
    errors = [error for _, _, error in outcome.samples if error]
    throughput = total / outcome.seconds
    log(
        f"\nLoad: {AGENTS} agents, {LOCUST_CUSTOMERS} customer sessions over {CUSTOMER_USERS:,}"
        f" customer users, {CUSTOMERS} customers; {outcome.seconds:.0f} s;"
        f" gunicorn {GUNICORN_WORKERS} gthread workers x {GUNICORN_THREADS} threads"
    )
    log(
        f"requests {total:,}, throughput {throughput:.1f} req/s, errors {len(errors)};"
        f" the machine's {os.cpu_count()} cores were {outcome.busy:.0%} busy (everything on it)"
    )
    header = f"{'endpoint':<20} {'requests':>8} {'req/s':>6}" + "".join(
        f" {title:>7}" for title in ("p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
    )
    log(header)
    log("-" * len(header))
    p95s: dict[str, float] = {}
    for name in sorted(by_name):
        times = [ms for ms, _ in by_name[name]]
        failed = sum(1 for _, error in by_name[name] if error)
        p95s[name] = percentile(times, 95)
        log(
            f"{name:<20} {len(times):>8} {len(times) / outcome.seconds:>6.1f} {percentile(times, 50):>7.1f}"
            f" {p95s[name]:>7.1f} {percentile(times, 99):>7.1f} {max(times):>7.1f} {failed:>7}"
        )
    for error, count in Counter(errors).most_common(5):
        log(f"    error x{count}: {error}")

    seen = outcome.connections
    if seen.open:
        log(
            f"\nDatabase connections (pg_stat_activity every {POLL_SECONDS:g} s, {len(seen.open)} samples,"
            f" max_connections {seen.limit}): open max {max(seen.open)},"
            f" mean {statistics.mean(seen.open):.1f};"
            f" in use (not idle) max {max(seen.in_use)}, mean {statistics.mean(seen.in_use):.2f}"
        )
    mail = outcome.mail
    processed = outcome.mail_states.get("ticket", 0) + outcome.mail_states.get("comment", 0)
    accept = (
        f"accept p95 {percentile(mail.latencies, 95) * 1000:.1f} ms" if mail.latencies else "none accepted"
    )
    log(
        f"Mail over SMTP: {len(mail.latencies)} accepted ({mail.replies} replies),"
        f" {len(mail.refused)} refused, {accept}; states {dict(outcome.mail_states)}"
    )
    log(
        f"Worker queue drained in {outcome.drained_before:.0f} s before the run (seeded tickets) and"
        f" {outcome.drained_after:.0f} s after it"
    )
    failed_tasks = sum(count for (_, how), count in outcome.tasks.items() if how == "failed")
    jobs = sorted({name for name, _ in outcome.tasks})
    log(
        "Worker tasks (succeeded/failed): "
        + ", ".join(
            f"{name} {outcome.tasks[(name, 'succeeded')]}/{outcome.tasks[(name, 'failed')]}" for name in jobs
        )
    )

    problems = len(errors) + len(mail.refused) + (len(mail.latencies) - processed) + failed_tasks
    checks = [
        (
            "zero errors (HTTP, SMTP, mail not processed, worker tasks failed)",
            problems == 0,
            f"HTTP {len(errors)}, SMTP {len(mail.refused)}, mail {len(mail.latencies) - processed},"
            f" tasks {failed_tasks}",
        ),
        *(
            (
                f"p95 <= {TARGET_P95_MS:g} ms: {name}",
                p95s.get(name, float("inf")) <= TARGET_P95_MS,
                f"{p95s.get(name, float('nan')):.1f} ms",
            )
            for name in TARGETED
        ),
        (
            f"throughput >= {TARGET_THROUGHPUT:g} req/s",
            throughput >= TARGET_THROUGHPUT,
            f"{throughput:.1f} req/s",
        ),
    ]
    print_verdict(checks)


def main() -> int:
    # The processes inherit these: their own broker queue and cache keys, one secret for all.
    env = {"CELERY_QUEUE": QUEUE, "CACHE_KEY_PREFIX": QUEUE, "SECRET_KEY": SECRET_KEY}
    return in_bench_database(lambda url: report(run(url)), env=env)


if __name__ == "__main__":
    sys.exit(main())
