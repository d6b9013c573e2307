"""Email channel benchmark: messages per second from SMTP accept to ticket committed, for new
tickets and for threaded replies, beside the raw message store alone; and the SMTP accept latency.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped and
re-created at start, dropped at the end) it provisions CUSTOMERS customers with USERS_PER_CUSTOMER
customer users each (``customer_provision``, ``customer_user_create``), then starts the real
processes against it, DEBUG off: ``manage.py mail_server`` (the aiosmtpd listener) on a free port,
and later one Celery worker with ``--concurrency 2`` (prefork: two processes running tasks, what
``dev.py run`` starts and what docker-compose's ``worker`` runs on 2 cores), on a queue of the
benchmark's own. Notification mail goes to a file backend in a temporary folder.

SENDERS client threads send with ``smtplib`` (one connection each, reused for their share of the
mails); every mail is built before the clock starts. Three timed runs (after untimed warm-ups):

- store: STORED mails of the new-ticket kind, as fast as the threads can, while no worker runs:
  SMTP accept → raw row committed (the listener answers 250 after the commit). Their queued
  tasks are dropped before the worker starts (those rows stay ``received``).
- new tickets: NEW mails offered at OFFERED x the target rate, each from a customer user to
  their customer's address (``<slug>@INBOUND_DOMAIN``, rule 4 of email.md), half plain text,
  half text + HTML.
- replies: REPLIES mails, offered at OFFERED x the target rate, answering the tickets just
  made, from their requesters, with quoted history: half to the ticket's reply address
  (``mail.addresses.reply_address``, rule 1), half to the customer's address with In-Reply-To /
  References naming a Message-ID we sent for that ticket (rule 2; the worker stored one with the
  new ticket's notification mail, else the benchmark stores one as ``mail.outbound`` does).

A run is timed from the first send to the moment a poller (every POLL_SECONDS) sees every one of
its mails processed (``ticket`` / ``comment`` are written in the same transaction as the ticket or
comment). The worker also runs the notification tasks those create, queued behind the mails
(FIFO): "drained" is the same count divided by the time until the queue was empty as well.
Accept latency: the time ``sendmail`` took (RCPT and DATA; not the connection and EHLO).
Every mail from a sender counts toward the per-sender flood limit (EMAIL_SENDER_LIMIT, 20 in
10 minutes): the users are enough that nobody sends more than a handful.

Targets (issue 16, on 2 cores): >= 50 new tickets/s, >= 80 replies/s, SMTP accept p95 <= 50 ms
(every mail sent while the worker runs); and every mail became what it should.

Run: ``python3 dev.py bench email``; ``--smoke`` for tiny sizes (it runs, its figures mean
nothing).
"""

from __future__ import annotations

import os
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # bench/email: run as ``python bench/email``
BENCH = HERE.parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE), str(BENCH)]

from provision import (  # noqa: E402
    free_port,
    in_bench_database,
    log,
    p95,
    print_verdict,
    purge_queue,
    served,
    smoke,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

SMOKE = smoke()
CUSTOMERS = 2 if SMOKE else 20
USERS_PER_CUSTOMER = 3 if SMOKE else 20
STORED = 12 if SMOKE else 1000
NEW = 12 if SMOKE else 1000
REPLIES = 12 if SMOKE else 1000
WARM_UP = 4 if SMOKE else 20
SENDERS = 8
CONCURRENCY = 2
POLL_SECONDS = 0.02
WAIT_SECONDS = 60 if SMOKE else 600  # for a run's mails to be processed before giving up
QUEUE = f"bench-email-{os.getpid()}"
JOB = "bench.email"
TAG = uuid.uuid4().hex[:8]

TARGET_NEW = 50.0  # new tickets per second
TARGET_REPLIES = 80.0  # replies per second
TARGET_ACCEPT_P95_MS = 50.0
# The timed runs offer their mails at twice the target rate: a backlog for the worker (what it
# processes is its capacity, up to that), and the accept latency of a loaded, not a saturated,
# listener (sending as fast as 8 threads can would only measure 8 / the listener's throughput).
OFFERED = 2.0


@dataclass
class Sent:
    latencies: list[float] = field(default_factory=list)  # seconds per accepted sendmail
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0  # first send to last answer


@dataclass
class Run:
    label: str
    count: int
    sent: Sent
    seconds: float = 0.0  # first send to every mail processed (store: to the last answer)
    drained: float = 0.0  # first send to the queue empty as well
    states: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


# --- the mails ------------------------------------------------------------------------------------

_BODY = (
    "Hello,\n\nsince this morning the {thing} on floor {floor} does not work: it shows an error and\n"
    "nobody in our team can use it. We restarted it twice. Could you please have a look today?\n\n"
    "Steps: switch on, wait for the login, enter the badge; then the error appears.\n\n"
    "Thanks,\n{name}\n"
)
_THINGS = ("printer", "VPN client", "meeting room display", "laptop dock", "shared drive", "badge reader")


def new_ticket_mail(n: int, user: Any, to: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"{user.name} <{user.email}>"
    message["To"] = to
    message["Subject"] = f"{_THINGS[n % len(_THINGS)].capitalize()} on floor {n % 9 + 1} broken ({n})"
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = f"<{TAG}.{n}@client.bench.test>"
    body = _BODY.format(thing=_THINGS[n % len(_THINGS)], floor=n % 9 + 1, name=user.name)
    message.set_content(body)
    if n % 2:  # what Outlook and Gmail send: text and HTML
        paragraphs = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
        message.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    return message.as_bytes(policy=SMTP)  # CRLF: smtplib sends bytes as they are


def reply_mail(n: int, user: Any, to: str, subject: str, thread_id: str | None) -> bytes:
    message = EmailMessage()
    message["From"] = f"{user.name} <{user.email}>"
    message["To"] = to
    message["Subject"] = f"Re: {subject}"
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = make_msgid(idstring=f"{TAG}.r{n}", domain="client.bench.test")
    if thread_id:
        message["In-Reply-To"] = f"<{thread_id}>"
        message["References"] = f"<{thread_id}>"
    quoted = "\n".join(
        f"> {line}" for line in _BODY.format(thing="printer", floor=3, name=user.name).split("\n")
    )
    message.set_content(
        f"Thanks, it works again since a few minutes ({n}).\n\n{user.name}\n\n"
        f"On Mon, 7 Dec 2026 at 09:12, ServiFlow <noreply@localhost> wrote:\n{quoted}\n"
    )
    return message.as_bytes(policy=SMTP)  # CRLF: smtplib sends bytes as they are


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


# --- sending --------------------------------------------------------------------------------------


def send_all(port: int, mails: list[tuple[str, list[str], bytes]], rate: float | None = None) -> Sent:
    """Send ``mails`` (envelope from, recipients, bytes) from SENDERS threads, one SMTP
    connection each; times each ``sendmail``. With ``rate``, mail ``i`` is sent no earlier than
    ``i / rate`` seconds after the start (an offered load; a late one goes at once)."""
    sent = Sent()
    lock = threading.Lock()
    next_index = iter(range(len(mails)))
    started = time.perf_counter()

    def sender() -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
        try:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                if rate and (wait := started + index / rate - time.perf_counter()) > 0:
                    time.sleep(wait)
                envelope_from, recipients, raw = mails[index]
                start = time.perf_counter()
                try:
                    smtp.sendmail(envelope_from, recipients, raw)
                except smtplib.SMTPException as exc:
                    with lock:
                        sent.refused.append(f"{type(exc).__name__}: {exc}"[:200])
                    smtp.close()
                    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
                    continue
                took = time.perf_counter() - start
                with lock:
                    sent.latencies.append(took)
        finally:
            smtp.close()

    threads = [threading.Thread(target=sender) for _ in range(min(SENDERS, len(mails)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.seconds = time.perf_counter() - started
    return sent


def last_message_pk() -> int:
    from mail.models import InboundMessage

    return InboundMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def queue_empty() -> bool:
    """Nothing waits in the benchmark's queue and nothing of it is being worked on (acks_late: a
    task leaves ``unacked`` when it is done). The Redis database may be shared (CI runs the
    benchmarks after the test suite on the same one), so only this queue's entries count."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    if int(client.llen(QUEUE)) != 0:
        return False
    values: list[bytes | str] = list(client.hvals("unacked"))
    return not any(QUEUE in (value.decode() if isinstance(value, bytes) else value) for value in values)


def wait_until(predicate: Callable[[], bool], what: str) -> float:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {WAIT_SECONDS} s waiting for {what}")
        time.sleep(POLL_SECONDS)
    return time.perf_counter()


def processed_run(
    label: str, port: int, mails: list[tuple[str, list[str], bytes]], rate: float | None = None
) -> Run:
    """Send ``mails`` with the worker running (offered at ``rate`` per second); timed until the
    worker processed every one."""
    from django.db import close_old_connections

    from mail.models import InboundMessage, State

    before = last_message_pk()
    batch = InboundMessage.objects.filter(pk__gt=before)
    started = time.perf_counter()
    result: dict[str, Sent] = {}
    sending = threading.Thread(target=lambda: result.setdefault("sent", send_all(port, mails, rate)))
    sending.start()
    # Polls while the senders send; counts only once every mail was accepted (or refused).
    done_at = wait_until(
        lambda: (
            not sending.is_alive()
            and batch.exclude(state=State.RECEIVED).count() >= len(result["sent"].latencies)
        ),
        f"the worker to process {label}",
    )
    drained_at = wait_until(queue_empty, "the queue to drain")
    sending.join()
    close_old_connections()
    run = Run(label=label, count=len(mails), sent=result["sent"])
    run.seconds, run.drained = done_at - started, drained_at - started
    run.states = Counter(batch.values_list("state", flat=True))
    run.reasons = Counter(reason.split(":")[0] for reason in batch.values_list("reason", flat=True))
    return run


# --- setup ----------------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    email: str
    customer: Any


def setup() -> list[Person]:
    from django.core.management import call_command

    from audit.context import job_context
    from people.services import CustomerUserFields, customer_user_create
    from tenants.schema import customer_schema
    from tenants.services import customer_provision

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    started = time.perf_counter()
    people: list[Person] = []
    with job_context(JOB):
        for c in range(CUSTOMERS):
            customer = customer_provision(name=f"Mail {c}", slug=f"mail-{c:03d}")
            with customer_schema(customer):
                for u in range(USERS_PER_CUSTOMER):
                    user = customer_user_create(
                        customer=customer,
                        fields=CustomerUserFields(
                            email=f"user{u}@mail-{c:03d}.bench.test", name=f"User {c}-{u}"
                        ),
                        password=None,
                    ).user
                    people.append(Person(name=user.name, email=user.email, customer=customer))
    log(f"==> {CUSTOMERS} customers, {len(people)} customer users in {time.perf_counter() - started:.1f} s")
    return people


def new_ticket_mails(people: list[Person], first: int, count: int) -> list[tuple[str, list[str], bytes]]:
    from mail.addresses import customer_address

    mails = []
    for n in range(first, first + count):
        person = people[n % len(people)]
        to = customer_address(person.customer)
        mails.append((person.email, [to], new_ticket_mail(n, person, to)))
    return mails


def reply_mails(
    people: list[Person], count: int, since_pk: int
) -> tuple[list[tuple[str, list[str], bytes]], int]:
    """Replies to the tickets the new-ticket run made (its mails after ``since_pk``); returns the
    mails and how many Message-IDs the benchmark had to store itself."""
    from mail.addresses import customer_address, new_message_id, reply_address
    from mail.models import InboundMessage, OutboundMessage, State

    by_email = {person.email: person for person in people}
    made = list(
        InboundMessage.objects.filter(pk__gt=since_pk, state=State.TICKET)
        .order_by("pk")
        .values_list("from_address", "customer_id", "ticket_id", "subject")
    )
    if not made:
        raise RuntimeError("the new-ticket run made no tickets to reply to")
    latest: dict[tuple[int, int], str] = {}
    for sent_for, sent_ticket, message_id in OutboundMessage.objects.order_by("created_at", "id").values_list(
        "customer_id", "ticket_id", "message_id"
    ):
        latest[(sent_for, sent_ticket)] = message_id
    stored_here = 0
    mails = []
    for n in range(count):
        sender, customer_id, made_ticket, subject = made[n % len(made)]
        person, ticket_id = by_email[sender], int(made_ticket or 0)  # a ``ticket`` row has one
        if n % 2 == 0:  # rule 1: the ticket's signed reply address
            to, thread_id = reply_address(person.customer, ticket_id), None
        else:  # rule 2: In-Reply-To of a Message-ID we sent, to the customer's own address
            to = customer_address(person.customer)
            thread_id = latest.get((customer_id, ticket_id))
            if thread_id is None:
                thread_id = new_message_id()
                OutboundMessage.objects.create(
                    message_id=thread_id, customer_id=customer_id, ticket_id=ticket_id
                )
                latest[(customer_id, ticket_id)] = thread_id
                stored_here += 1
        mails.append((person.email, [to], reply_mail(n, person, to, subject, thread_id)))
    return mails, stored_here


# --- the processes --------------------------------------------------------------------------------


def process_env(mail_dir: str) -> dict[str, str]:
    from django.conf import settings

    return os.environ | {
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",  # no query logging, as deployed
        "EMAIL_URL": f"file://{mail_dir}",
        "SECURE_SSL_REDIRECT": "0",
        "PYTHONUNBUFFERED": "1",
    }


def smtp_greets(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(64).startswith(b"220")


def mail_server(env: dict[str, str], port: int) -> Any:
    command = [sys.executable, "manage.py", "mail_server", "--host", "127.0.0.1", "--port", str(port)]
    return served(command, name="email-mail-server", env=env, cwd=ROOT, ready=lambda: smtp_greets(port))


def worker(env: dict[str, str]) -> Any:
    log_file = Path(tempfile.gettempdir()) / f"bench-email-worker-{os.getpid()}.log"  # served's log
    command = [str(Path(sys.executable).parent / "celery"), "-A", "serviflow", "worker", "-Q", QUEUE]
    command += ["--concurrency", str(CONCURRENCY), "-l", "INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return served(
        command,
        name="email-worker",
        env=env,
        cwd=ROOT,
        ready=lambda: log_file.exists() and " ready." in log_file.read_text(errors="replace"),
    )


# --- the benchmark --------------------------------------------------------------------------------


def run(_database_url: str) -> None:
    from django.db import close_old_connections

    from mail.models import InboundMessage

    people = setup()
    port = free_port()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-email-mail-") as mail_dir:
        env = process_env(mail_dir)
        try:
            with mail_server(env, port):
                log(f"==> mail_server on 127.0.0.1:{port}; {SENDERS} sending threads")

                # store alone: nothing consumes the queue yet (after an untimed warm-up)
                send_all(port, new_ticket_mails(people, 3_000_000, WARM_UP))
                before = last_message_pk()
                sent = send_all(port, new_ticket_mails(people, 1_000_000, STORED))
                close_old_connections()
                rows = InboundMessage.objects.filter(pk__gt=before).count()
                store = Run(
                    label="raw store alone (no worker)", count=STORED, sent=sent, seconds=sent.seconds
                )
                store.states = Counter({"stored": rows})
                dropped = purge_queue(QUEUE)
                log(f"    store: {rows} rows in {sent.seconds:.2f} s; dropped {dropped} queued tasks")
                runs.append(store)

                with worker(env):
                    log(f"==> Celery worker, prefork, --concurrency {CONCURRENCY}, queue {QUEUE}")
                    warm = processed_run("warm-up", port, new_ticket_mails(people, 2_000_000, WARM_UP))
                    log(f"    warm-up: {warm.count} mails in {warm.seconds:.2f} s ({dict(warm.states)})")

                    before = last_message_pk()
                    new = processed_run(
                        "new tickets", port, new_ticket_mails(people, 0, NEW), OFFERED * TARGET_NEW
                    )
                    log(f"    new tickets: {new.rate:.1f}/s ({dict(new.states)})")
                    runs.append(new)

                    mails, stored_here = reply_mails(people, REPLIES, before)
                    if stored_here:
                        log(f"    {stored_here} tickets had no Message-ID we sent; stored one for each")
                    replies = processed_run("threaded replies", port, mails, OFFERED * TARGET_REPLIES)
                    log(f"    replies: {replies.rate:.1f}/s ({dict(replies.states)})")
                    runs.append(replies)
        finally:
            purge_queue(QUEUE)
    report(runs)


def _ms(samples: list[float], q: str) -> str:
    if not samples:
        return "-"
    if q == "max":
        return f"{max(samples) * 1000:.0f}"
    value = statistics.median(samples) if q == "p50" else p95(samples) if len(samples) > 1 else samples[0]
    return f"{value * 1000:.1f}"


def report(runs: list[Run]) -> None:
    store, new, replies = runs
    log("")
    log(
        f"Email over SMTP: {SENDERS} smtplib threads against manage.py mail_server; one Celery worker, "
        f"prefork, --concurrency {CONCURRENCY}."
    )
    log(
        f"Offered: store as fast as possible; new tickets {OFFERED * TARGET_NEW:g}/s, "
        f"replies {OFFERED * TARGET_REPLIES:g}/s (twice the targets)."
    )
    log("mails/s: first send to every mail processed (store: to the last 250, i.e. the row committed);")
    log("drained/s: until the notification tasks they queued ran too; accept: sendmail's time, ms (max too).")
    header = (
        f"{'run':<28} {'mails':>6} {'s':>7} {'mails/s':>8} {'drained/s':>9} "
        f"{'accept p50':>10} {'accept p95':>10} {'max':>6} {'refused':>7}  outcome"
    )
    log(header)
    log("-" * len(header))
    for run in runs:
        drained = f"{run.count / run.drained:9.1f}" if run.drained else f"{'-':>9}"
        log(
            f"{run.label:<28} {run.count:>6} {run.seconds:>7.2f} {run.rate:>8.1f} {drained} "
            f"{_ms(run.sent.latencies, 'p50'):>10} {_ms(run.sent.latencies, 'p95'):>10} "
            f"{_ms(run.sent.latencies, 'max'):>6} "
            f"{len(run.sent.refused):>7}  {dict(run.states)}"
        )
    for run in runs:
        for reason in sorted(set(run.sent.refused))[:3]:
            log(f"    refused in {run.label}: {reason}")
    log(f"routing of the replies: {dict(replies.reasons)}")

    under_load = new.sent.latencies + replies.sent.latencies
    accept_p95 = p95(under_load) * 1000 if len(under_load) > 1 else 0.0
    wanted = {"new tickets": ("ticket", NEW), "threaded replies": ("comment", REPLIES)}
    wrong = {
        run.label: run.count - run.states.get(wanted[run.label][0], 0)  # refused ones included
        for run in (new, replies)
    }
    print_verdict(
        [
            (
                f">= {TARGET_NEW:g} new tickets/s (2 worker processes)",
                new.rate >= TARGET_NEW,
                f"{new.rate:.1f}/s",
            ),
            (
                f">= {TARGET_REPLIES:g} threaded replies/s (2 worker processes)",
                replies.rate >= TARGET_REPLIES,
                f"{replies.rate:.1f}/s",
            ),
            (
                f"SMTP accept p95 <= {TARGET_ACCEPT_P95_MS:g} ms (while the worker runs)",
                accept_p95 <= TARGET_ACCEPT_P95_MS,
                f"{accept_p95:.1f} ms; store alone {_ms(store.sent.latencies, 'p95')} ms",
            ),
            (
                "every mail accepted and made its ticket or comment",
                not any(wrong.values()) and not store.sent.refused and store.states["stored"] == STORED,
                ", ".join(f"{label}: {count} missing" for label, count in wrong.items())
                + f"; stored {store.states['stored']}/{STORED}; refused "
                + "/".join(str(len(run.sent.refused)) for run in runs),
            ),
        ]
    )


def main() -> int:
    env = {
        "CELERY_QUEUE": QUEUE,
        "CACHE_KEY_PREFIX": QUEUE,
        # the benchmark signs reply addresses; the listener and worker must check them alike
        "SECRET_KEY": "bench-email-" + os.urandom(16).hex(),
    }
    return in_bench_database(run, env=env)


if __name__ == "__main__":
    sys.exit(main())
