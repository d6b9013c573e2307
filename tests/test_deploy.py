"""Deployment hardening: the image runs as a non-root user, docker-compose gives every service a
health check, production settings send the security headers and secure cookies, and passwords
are validated wherever a person's password is set.

There is no Docker engine here, so the Dockerfile and docker-compose.yml are checked as files:
the compose file is parsed with PyYAML, as Compose reads it (anchors and merge keys included).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from accounts.activation import activation_link
from accounts.services import AgentFields, agent_create
from tests.conftest import Cast, api_for
from tests.support import processes

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"postgres", "redis", "web", "worker", "beat", "mail"}

# Run with DEBUG off in a process of its own (settings are read once, at start-up). No collectstatic
# ran here, so the pages' static files are named by the plain storage instead of the manifest.
_PRODUCTION_PAGE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
    page = Client(HTTP_HOST="localhost").get("/login/", secure=True)
    plain_http = Client(HTTP_HOST="localhost").get("/login/")
print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "cookies": {name: {"secure": bool(m["secure"])} for name, m in page.cookies.items()},
    "plain_http": [plain_http.status_code, plain_http.get("Location", "")],
    "settings": {name: getattr(settings, name) for name in (
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT", "X_FRAME_OPTIONS",
    )},
}))
"""


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users, "the Dockerfile sets no USER: the image would run as root"
    # the final stage's, as uid[:gid]; ASCII digits only (str.isdigit would take '\u00b2' too)
    uid = re.fullmatch(r"([0-9]+)(?::[0-9]+)?", users[-1])
    assert uid is not None and int(uid.group(1)) != 0, f"USER {users[-1]} must be a numeric, non-root uid"


def test_every_service_runs_with_a_health_check() -> None:
    services = _compose()["services"]
    assert set(services) - {"migrate"} == SERVICES  # migrate is one-shot: it exits, nothing to watch
    for name in SERVICES:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    worker, beat = services["worker"]["healthcheck"]["test"], services["beat"]["healthcheck"]["test"]
    assert "inspect ping" in " ".join(worker) and "celery@$$HOSTNAME" in " ".join(worker)
    assert beat == ["CMD", "python", "manage.py", "beat_health"]
    assert "2525" in " ".join(services["mail"]["healthcheck"]["test"])


def test_production_sends_the_security_headers_and_secure_cookies(django_db_setup: None) -> None:
    env = processes.process_env(
        DEBUG="0", SECRET_KEY="k" * 60 + "-production-like", EMAIL_URL="smtp://mail.example.com:587"
    )
    result = subprocess.run(
        [sys.executable, "-c", _PRODUCTION_PAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["settings"] == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
        "X_FRAME_OPTIONS": "DENY",
    }
    assert found["plain_http"] == [301, "https://localhost/login/"]
    assert found["status"] == 200
    headers = found["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert found["cookies"]["csrftoken"]["secure"] is True


WEAK = [
    ("Short-1", "This password is too short."),
    ("password123", "This password is too common."),
    ("48151623429999", "This password is entirely numeric."),
    ("ferdinand.fresh", "The password is too similar to the email."),
]


@pytest.mark.parametrize(("password", "message"), WEAK, ids=[m for _, m in WEAK])
def test_activation_refuses_a_weak_password(cast: Cast, actor: None, password: str, message: str) -> None:
    agent = agent_create(fields=AgentFields(email="ferdinand.fresh@msp.test", name="Fresh"), password=None)
    path = activation_link(agent).split("localhost:8000", 1)[1]
    page = Client(HTTP_HOST="localhost").post(path, {"password1": password, "password2": password})
    assert page.status_code == 400 and message in page.content.decode()
    agent.refresh_from_db()
    assert not agent.has_usable_password()


@pytest.mark.parametrize(("password", "message"), WEAK[:3], ids=[m for _, m in WEAK[:3]])
def test_a_password_change_refuses_a_weak_password(cast: Cast, password: str, message: str) -> None:
    response = api_for(cast.alice).patch(
        f"/api/v1/agents/{cast.bob.pk}/", {"password": password}, format="json"
    )
    assert response.status_code == 400
    assert any(message in said for said in response.json()["fields"]["password"])
    cast.bob.refresh_from_db()
    assert not cast.bob.check_password(password)
