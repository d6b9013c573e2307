"""Health check, error envelope, OpenAPI schema, settings and management commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User, UserKind
from serviflow.env import env_bool, env_int, parse_database_url, parse_email_url
from tests.conftest import Cast, api_for

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_reports_database_and_broker(cast: Cast) -> None:
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_is_503_when_the_broker_is_down(cast: Cast, settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here/", 404, "not_found"),
        ("put", "/api/v1/me/", 405, "method_not_allowed"),
    ],
)
def test_errors_use_the_envelope(cast: Cast, method: str, path: str, status: int, code: str) -> None:
    response = getattr(api_for(cast.alice), method)(path)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["detail"]


def test_malformed_json_is_400_parse_error(cast: Cast) -> None:
    response = api_for(cast.alice).generic(
        "POST", "/api/v1/customers/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_unknown_host_is_404(cast: Cast) -> None:
    assert Client(HTTP_HOST="nobody.localhost").get("/").status_code == 404


def test_openapi_schema_generates_without_warnings(cast: Cast, tmp_path: Path) -> None:
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "serviflow.urls_console",
        "--file",
        str(tmp_path / "schema.yaml"),
    )
    schema = (tmp_path / "schema.yaml").read_text()
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/customers/",
        "/api/v1/agents/",
        "/api/v1/customers/{slug}/users/",
    ):
        assert path in schema
    assert APIClient(HTTP_HOST="localhost").get("/api/v1/schema/").status_code == 200
    assert APIClient(HTTP_HOST="localhost").get("/api/v1/docs/").status_code == 200


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_database_url("mysql://x/y"), "postgres"),
        (lambda: parse_database_url("postgres://host/"), "name a database"),
        (lambda: parse_email_url("pigeon://coop"), "not supported"),
        (lambda: parse_email_url("smtp://"), "needs a host"),
    ],
)
def test_bad_urls_fail_loudly(call, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        call()


def test_typed_env_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env_int("X_INT", 1)
    socket_url = parse_database_url("postgresql://postgres@/serviflow?host=/tmp/pg")
    assert socket_url["HOST"] == "/tmp/pg" and socket_url["NAME"] == "serviflow"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "EMAIL_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    from django.conf import settings

    base.update(
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://x@127.0.0.1/x",
        REDIS_URL=settings.REDIS_URL,
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="k" * 60 + "-production-like-secret",
        EMAIL_URL="smtp://mail.example.com:587?tls=1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _manage("check", DEBUG="0", EMAIL_URL="console:")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_create_provider_admin_command(cast: Cast) -> None:
    call_command(
        "create_provider_admin", "--email", "Boss@MSP.test", "--password", "a-long-pass-123", "--name", "Boss"
    )
    boss = User.objects.get(email="boss@msp.test")
    assert boss.kind == UserKind.PROVIDER_ADMIN and boss.check_password("a-long-pass-123")


def test_profile_page_lists_and_revokes_tokens(cast: Cast) -> None:
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(cast.bob)
    page = browser.post("/profile/", {"name": "laptop"})
    assert page.status_code == 200 and b"laptop" in page.content and b"sf_" in page.content
    token = cast.bob.api_tokens.get(name="laptop")
    browser.post(f"/profile/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_activation_link_sets_the_first_password(cast: Cast, actor: None) -> None:
    from accounts.activation import activation_link
    from accounts.services import AgentFields, agent_create

    agent = agent_create(fields=AgentFields(email="fresh@msp.test", name="Fresh"), password=None)
    path = activation_link(agent).split("localhost:8000", 1)[1]
    browser = Client(HTTP_HOST="localhost")
    response = browser.post(path, {"password1": "brand-new-pass-42", "password2": "brand-new-pass-42"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("brand-new-pass-42")
    assert browser.get(path).status_code == 404  # one time only


def test_host_lookups_are_cached_and_forgotten_when_a_customer_changes(
    cast, django_assert_num_queries
) -> None:
    from django.test import Client

    from audit.context import job_context
    from tenants.hosts import customer_for_host
    from tenants.services import customer_archive

    customer_for_host("acme.localhost")
    with django_assert_num_queries(0):
        assert customer_for_host("acme.localhost").slug == "acme"
    with job_context("tests"):
        customer_archive(customer=cast.acme)
    assert Client(HTTP_HOST="acme.localhost").get("/login/").status_code == 404


def test_a_portal_request_leaves_the_connection_in_public(cast) -> None:
    from django.test import Client

    from tenants.schema import tenant_connection

    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(cast.acme_user)
    assert client.get("/").status_code == 200
    assert tenant_connection.schema_name == "public"
