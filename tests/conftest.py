"""Test set-up: a real PostgreSQL test database with the template schema and a fixed cast.

The cast (created once per session, committed):
- Alice: provider admin.        - Bob: agent, member of Acme.   - Charlie: agent, member of Globex only.
- Acme: acme-admin (admin), acme-user, acme-user2 (user), acme-it (customer agent).
- Globex: globex-admin (admin), globex-user (user).
Acme's and Globex's profile ids overlap (both start at 1), as do everything else's ids per schema.
Each test runs in a transaction that is rolled back; tests that need committed data (worker,
browser) use their own freshly provisioned customers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create, token_issue
from audit.context import job_context
from people.models import CustomerUser
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.platform import ensure_public_tenant, ensure_template_tenant
from tenants.schema import customer_schema
from tenants.services import customer_provision

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

PASSWORD = "quiz-jukebox-vivid-glyph-zynq"
CONSOLE_HOST = "localhost"


@dataclass(frozen=True)
class Cast:
    alice: User
    bob: User
    charlie: User
    acme: Customer
    globex: Customer
    acme_admin: User
    acme_user: User
    acme_user2: User
    acme_it: User
    globex_admin: User
    globex_user: User

    def profile(self, user: User) -> CustomerUser:
        assert user.customer is not None
        with customer_schema(user.customer):
            return CustomerUser.objects.get(user=user)


def _customer_user(customer: Customer, email: str, role: str) -> User:
    with customer_schema(customer):
        profile = customer_user_create(
            customer=customer,
            fields=CustomerUserFields(email=email, name=email.split("@")[0], role=role),
            password=PASSWORD,
        )
    return profile.user


def _build_cast() -> Cast:
    with job_context("tests.cast"):
        ensure_public_tenant(provider_name="Test MSP")
        ensure_template_tenant()
        acme = customer_provision(name="Acme", slug="acme", timezone_name="Europe/Berlin")
        globex = customer_provision(name="Globex", slug="globex", timezone_name="America/New_York")

        def agent(email: str, **kw: Any) -> User:
            return agent_create(
                fields=AgentFields(email=email, name=email.split("@")[0], **kw), password=PASSWORD
            )

        return Cast(
            alice=agent("alice@msp.test", is_admin=True),
            bob=agent("bob@msp.test", customers=(acme,)),
            charlie=agent("charlie@msp.test", customers=(globex,), licence=Licence.OCCASIONAL),
            acme=acme,
            globex=globex,
            acme_admin=_customer_user(acme, "admin@acme.test", "admin"),
            acme_user=_customer_user(acme, "user@acme.test", "user"),
            acme_user2=_customer_user(acme, "user2@acme.test", "user"),
            acme_it=_customer_user(acme, "it@acme.test", "agent"),
            globex_admin=_customer_user(globex, "admin@globex.test", "admin"),
            globex_user=_customer_user(globex, "user@globex.test", "user"),
        )


_CAST: Cast | None = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The contract run commits what the server does (customers, purchases, a new default SLA
    policy): it goes last, so that no other test sees it."""
    items.sort(key=lambda item: item.get_closest_marker("contract") is not None)


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
) -> Iterator[None]:
    """The test database, always (pytest-django would skip it when only worker or browser tests
    run, leaving them on the real database), then the template tenant and the cast."""
    from django.test.utils import setup_databases, teardown_databases

    global _CAST
    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=0, interactive=False, keepdb=django_db_keepdb, aliases={"default"})  # type: ignore[arg-type]
        assert connection.settings_dict["NAME"].startswith("test_"), "refusing to run on a real database"
        _CAST = _build_cast()
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            with connection.cursor() as cursor:  # a server or worker process may linger a moment
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connections.close_all()
            teardown_databases(db_cfg, verbosity=0)


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    from django.core.cache import caches

    from tenants.hosts import forget_hosts

    yield
    # Only the throttle's own keys: cache.clear() would FLUSHDB the broker's database too, taking
    # queued tasks (a running test worker's, or the development environment's) with it.
    for alias in ("throttle", "platform"):  # day-pass validity of a rolled-back pass, too
        cache = caches[alias]
        client = cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    forget_hosts()  # hosts of customers a rolled-back test created must not outlive it


@pytest.fixture
def cast(db: None, request: pytest.FixtureRequest) -> Cast:
    """The session's cast, re-read so that no test sees another test's in-memory changes. The
    day-pass pool holds POOL passes (bought inside the test's transaction), so that Charlie,
    the occasional agent, gets in; tests marked ``empty_pool`` start with none."""
    assert _CAST is not None
    for value in vars(_CAST).values():
        value.refresh_from_db()
    if request.node.get_closest_marker("empty_pool") is None:
        from billing.services import day_passes_buy

        with job_context("tests.pool"):
            day_passes_buy(by=_CAST.alice, quantity=POOL)
    return _CAST


POOL = 100


@pytest.fixture
def actor() -> Iterator[None]:
    """Writes made directly by a test (not through a request) run as a named job."""
    with job_context("tests"):
        yield


def api_for(user: User | None) -> APIClient:
    client = APIClient(HTTP_HOST=CONSOLE_HOST)
    if user is not None:
        with job_context("tests.token"):
            _, raw = token_issue(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(cast: Cast) -> type[APIClient]:
    return api_for  # type: ignore[return-value]


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def celery_queue() -> Iterator[str]:
    """The queue of this test session: the web server enqueues to it, the test worker reads it.
    Whatever is left in it (no worker ran) is removed from the broker at the end."""
    import redis
    from django.conf import settings

    queue = f"test-{uuid.uuid4().hex[:8]}"
    yield queue
    redis.Redis.from_url(settings.REDIS_URL).delete(queue)


@pytest.fixture(scope="session")
def worker_queue(django_db_setup: None, mail_dir: Path, media_dir: Path, celery_queue: str) -> Iterator[str]:
    """A real Celery worker on a queue of its own, against the test database and real Redis."""
    from serviflow.celery import app
    from tests.support import processes

    queue = celery_queue
    app.conf.task_default_queue = queue
    ARTIFACTS.mkdir(exist_ok=True)
    env = processes.process_env(CELERY_QUEUE=queue, EMAIL_URL=f"file://{mail_dir}", MEDIA_ROOT=str(media_dir))
    proc = processes.start_worker(queue, env, ARTIFACTS / "worker.log")
    yield queue
    processes.stop(proc)


@pytest.fixture(scope="session")
def live_url(django_db_setup: None, mail_dir: Path, media_dir: Path, celery_queue: str) -> Iterator[str]:
    """The real web server (runserver, no reload) on a free port, against the test database."""
    from tests.support import processes

    port = processes.free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    env = processes.process_env(
        PUBLIC_PORT=str(port),
        EMAIL_URL=f"file://{mail_dir}",
        MEDIA_ROOT=str(media_dir),
        CELERY_QUEUE=celery_queue,
    )
    proc = processes.start_web(port, env, ARTIFACTS / "web.log")
    yield f"http://localhost:{port}"
    processes.stop(proc)
