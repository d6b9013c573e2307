"""CSRF on every form of the console and the portals.

Three ways round: every page template's POST form holds ``{% csrf_token %}`` (and htmx requests
send the token from ``base.html``); every page the probes' world can show (every GET route of the
console and of a portal the URL resolvers know, fetched as the cast member entitled to it and
anonymously) renders its POST forms with the token; and every write route of the console and of a
portal, sent its valid request (tests/probes/inputs.py) by a signed-in person without the token,
is refused with 403, while the same request with the token gets past the check.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from tests.probes.fuzz import valid_request
from tests.probes.inputs import Target, targets
from tests.probes.routes import API, all_routes
from tests.probes.world import ANONYMOUS, World, module_world

ROOT = Path(__file__).resolve().parent.parent
PAGE_ROUTES = [route for route in all_routes() if route.family != API]
EXEMPT = {route.id for route in PAGE_ROUTES if getattr(route.callback, "csrf_exempt", False)}
WRITES = [
    (route, method)
    for route in PAGE_ROUTES
    if route.id not in EXEMPT
    for method in route.methods
    if method != "GET"
]
REFUSED = "Your form expired or came from another site."
TOKEN = "probeprobeprobeprobeprobeprobe12"  # a CSRF secret's length (32) and alphabet
POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    for built in module_world(django_db_blocker, tmp_path_factory.mktemp("csrf-media")):
        built.client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        yield built


@pytest.fixture(scope="module")
def known(world: World) -> dict[tuple[str, str], Target]:
    return {(target.route.id, target.method): target for target in targets(world, PAGE_ROUTES)}


def test_no_page_route_is_exempt_but_the_api_catch_all() -> None:
    """The portal's answer to /api/ paths (the envelope's 404) changes nothing."""
    assert sorted(EXEMPT) == ["portal:api-not-found"]


def test_every_post_form_template_holds_the_token() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {form.strip()[:80]}"
        for path in (ROOT / "templates").rglob("*.html")
        for form in POST_FORM.findall(path.read_text())
        if "{% csrf_token %}" not in form
    ]
    assert missing == []
    base = (ROOT / "templates" / "base.html").read_text()
    assert """hx-headers='{"X-CSRFToken": "{{ csrf_token }}"}'""" in base  # htmx's posts


def test_every_page_renders_its_post_forms_with_the_token(world: World, known, db: None) -> None:
    pages_with_forms, missing = set(), []
    for target in known.values():
        if target.method != "GET" or target.unprobed:
            continue
        path = target.route.url(**target.kwargs)
        for caller in (target.caller, ANONYMOUS):
            sent = world.send(world.caller(caller), "GET", target.host, path)
            forms = POST_FORM.findall(sent.text) if sent.status == 200 else []
            if forms:
                pages_with_forms.add(target.route.id)
            missing += [f"{path} as {caller}" for form in forms if 'name="csrfmiddlewaretoken"' not in form]
    assert missing == []
    # The crawl reached the pages that post (a broken world would make this pass vacuously).
    assert {
        "console:login",
        "portal:login",
        "console:profile",
        "console:console-ticket",
        "portal:portal-ticket",
    } <= pages_with_forms
    assert len(pages_with_forms) >= 60, sorted(pages_with_forms)  # 79 when written


@pytest.mark.parametrize(("route", "method"), WRITES, ids=[f"{r.id} {m}" for r, m in WRITES])
def test_a_write_without_the_token_is_refused(world: World, known, db: None, route, method: str) -> None:
    target = known[(route.id, method)]
    if target.unprobed:
        pytest.fail(target.unprobed)
    path, body, content_type = valid_request(target)
    caller = world.caller(target.caller)
    refused = world.send(caller, method, target.host, path, body=body, content_type=content_type)
    assert refused.status == 403 and REFUSED in refused.text, (refused.status, refused.text[:300])
    with_token = dataclasses.replace(caller, cookies={**caller.cookies, "csrftoken": TOKEN})
    passed = world.send(
        with_token,
        method,
        target.host,
        path,
        body=body,
        content_type=content_type,
        headers={"HTTP_X_CSRFTOKEN": TOKEN},
    )
    assert REFUSED not in passed.text, f"{method} {path}: refused even with the token"
