"""The Content-Security-Policy of HTML pages, and the API docs page served from this host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import Cast
from tests.support.clients import console, portal

ROOT = Path(__file__).resolve().parent.parent


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.parametrize(
    "page",
    [
        lambda cast: console(cast.bob).get("/"),
        lambda cast: console(cast.alice).get("/sla/policies/"),
        lambda cast: portal(cast.acme_user).get("/"),
        lambda cast: Client(HTTP_HOST="localhost").get("/api/v1/docs/"),
        lambda cast: Client(HTTP_HOST="localhost").get("/login/"),
        lambda cast: Client(HTTP_HOST="localhost").get("/no-such-page/"),  # an error page
        lambda cast: Client(HTTP_HOST="nobody.localhost").get("/"),  # an unknown host's 404
    ],
    ids=["console queue", "console SLA", "portal", "API docs", "sign-in", "404 page", "unknown host"],
)
def test_html_pages_send_a_strict_policy(cast: Cast, page) -> None:
    response = page(cast)
    assert response["Content-Type"].startswith("text/html")
    policy = _policy(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]


def test_json_is_left_alone(cast: Cast) -> None:
    assert "Content-Security-Policy" not in Client(HTTP_HOST="localhost").get("/healthz")


def test_the_docs_page_loads_everything_from_this_host(cast: Cast) -> None:
    client = Client(HTTP_HOST="localhost")
    page = client.get("/api/v1/docs/").content.decode()
    assert "<script>" not in page and "<style>" not in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()
    assert "//" not in "".join(re.findall(r"https?://[^\"']+", script.content.decode()))


def test_templates_hold_no_inline_script_style_or_handlers() -> None:
    """What the policy would refuse: inline <script> and <style>, style= and on* attributes."""
    refused = re.compile(r"<script(?![^>]*\ssrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in refused.finditer(path.read_text())
    ]
    assert found == []
