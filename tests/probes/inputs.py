"""What each route reads, found rather than listed: the API's query parameters and request bodies
from its OpenAPI schema (drf-spectacular, generated from the code), the pages' fields from the
forms the pages themselves render (every GET page is fetched and its forms are parsed; a form
belongs to the route its action resolves to). A valid request is made from these (the schema's
types and enums, the forms' own values), and the bad-input test then spoils one input at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.parsers import MultiPartParser

from sla.models import STANDARD_TARGETS
from tests.conftest import CONSOLE_HOST
from tests.probes.matrix import THROUGH, WRITE_FIELDS, Unprobed, probes_for
from tests.probes.routes import API, PORTAL, Route
from tests.probes.world import ANONYMOUS, World, portal_host

# Query parameters a list page (one with a filter form or query links to itself) may be sent
# besides those: the pager's, which shows only with more rows than the world has. (The API's
# schema lists its pagination parameters itself.)
PAGE_QUERY = ("page", "cursor")
# Form fields not worth spoiling (the test client does not check CSRF tokens).
IGNORED_FIELDS = {"csrfmiddlewaretoken"}
# Who sends the valid request, in this order of preference among those who may see its objects.
PREFERRED = (
    "alice",
    "bob",
    "acme_admin",
    "acme_user",
    "acme_it",
    "acme_user2",
    "globex_admin",
    "globex_user",
    "charlie",
)
# Valid bodies the schema alone cannot give (values that must agree with each other or with
# objects of the world). By url name and method; "{business_hours}" is the world's profile id.
WEEK = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}
SANE: dict[tuple[str, str], dict[str, Any]] = {
    ("api:sla-simulate", "POST"): {
        "targets": STANDARD_TARGETS,
        "business_hours": {"timezone": "Europe/Paris", "schedule": WEEK, "holidays": ["2026-12-25"]},
        "priority": "P1",
        "created_at": "2026-03-02T09:00:00Z",
        "events": [
            {"at": "2026-03-02T10:00:00Z", "status": "pending"},
            {"at": "2026-03-03T10:00:00Z", "status": "open"},
        ],
    },
    ("api:sla-policy-list", "POST"): {
        "name": "probe policy",
        "targets": STANDARD_TARGETS,
        "business_hours": "{business_hours}",
    },
    ("api:business-hours-list", "POST"): {
        "name": "probe hours",
        "timezone": "Europe/Paris",
        "schedule": WEEK,
        "holidays": [],
    },
    ("api:business-hours-fill-holidays", "POST"): {"country": "FR", "years": [2026]},
    ("api:auth-token", "POST"): {"email": "nobody@probe.test", "password": "not-the-password"},
    ("api:customer-list", "POST"): {"name": "Probe", "slug": "probe-co", "timezone": "Europe/Paris"},
    ("api:ticket-list", "POST"): {"subject": "probe", "description": "probe", "priority": "P3"},
    ("api:day-pass-purchases", "POST"): {"quantity": 1},
}


@dataclass
class Form:
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass
class Target:
    """One route and method, with everything needed to send a valid request to it."""

    route: Route
    method: str
    caller: str
    host: str
    kwargs: dict[str, str]
    query: tuple[str, ...]
    body: dict[str, Any] | None  # JSON (API) or form fields (pages), valid as far as known
    files: tuple[str, ...] = ()  # multipart file fields the route reads
    unprobed: str | None = None  # why no valid request could be made (a path argument unknown)

    @property
    def api(self) -> bool:
        return self.route.family == API

    def __str__(self) -> str:
        return f"{self.method} {self.route} as {self.caller}"


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, Form]] = []
        self.links: list[str] = []  # hrefs with a query string: the pager's, the tabs'
        self._select: str | None = None
        self._textarea: str | None = None
        self._chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "?" in a.get("href", ""):
            self.links.append(a["href"])
        if tag == "form":
            self.forms.append((a.get("action", ""), Form(method=(a.get("method") or "get").upper())))
            return
        if not self.forms:
            return
        form = self.forms[-1][1]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "file":
                form.files.append(name)
            elif kind in ("checkbox", "radio"):
                values = form.fields.setdefault(name, [])
                if "checked" in a or not values:
                    values[:] = [a.get("value", "on")]
            else:
                form.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "button" and name:
            form.fields.setdefault(name, [a.get("value", "")])
        elif tag == "select" and name:
            self._select, self._chosen = name, False
            form.fields[name] = []
        elif tag == "option" and self._select:
            values = form.fields[self._select]
            if "selected" in a and not self._chosen:
                values[:], self._chosen = [a.get("value", "")], True
            elif not values:
                values.append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            form.fields[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1][1].fields[self._textarea][0] += data


def _entitled(world: World, route: Route) -> tuple[str, str, dict[str, str]]:
    """Who sends the valid request to ``route``, on which host, with which path arguments."""
    if not route.kwargs:
        if route.family == PORTAL:
            return "acme_admin", portal_host("acme"), {}
        return "alice", CONSOLE_HOST, {}
    through = [probe for probe in probes_for(world, route) if probe.expect == THROUGH]
    if not through:
        raise Unprobed(f"{route}: nobody of the cast may see any object it names (see the outsider matrix)")
    rank = {name: i for i, name in enumerate((*PREFERRED, ANONYMOUS))}
    # the object of Acme, where there is a choice (its own agents and plain users are there)
    through.sort(key=lambda p: (rank[p.caller], "globex" in p.host or "/globex/" in p.path))
    best = through[0]
    match = resolve(urlsplit(best.path).path, urlconf=route.urlconf)
    return best.caller, best.host, {k: str(v) for k, v in match.kwargs.items()}


# --- the API's schema -------------------------------------------------------------------------

_SCHEMA: dict[str, Any] = {}


def api_schema() -> dict[str, Any]:
    if not _SCHEMA:
        generator = SchemaGenerator(urlconf=settings.PUBLIC_SCHEMA_URLCONF)  # type: ignore[no-untyped-call]
        _SCHEMA.update(generator.get_schema(request=None, public=True))  # type: ignore[no-untyped-call]
    return _SCHEMA


def _schema_path(route: Route) -> str:
    def placeholder(match: re.Match[str]) -> str:
        return "{" + ("id" if match[1] == "pk" else match[1]) + "}"

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", placeholder, route.path)


def _resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolved(schema, node["allOf"][0])
    return node


def sample(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """A valid-looking value for a schema node: its enum's first value, null where allowed, the
    smallest allowed number, a short string (of the format asked)."""
    node = _resolved(schema, node)
    if "oneOf" in node or "anyOf" in node:
        return sample(schema, (node.get("oneOf") or node["anyOf"])[0])
    if node.get("enum"):
        return next((v for v in node["enum"] if v not in (None, "")), node["enum"][0])
    if node.get("nullable"):
        return None
    kind = node.get("type", "object")
    if kind == "object":
        props = node.get("properties", {})
        return {k: sample(schema, v) for k, v in props.items() if not _resolved(schema, v).get("readOnly")}
    if kind == "array":
        return [sample(schema, node["items"])] if node.get("minItems") else []
    if kind == "integer":
        return max(int(node.get("minimum", 1)), 1)
    if kind == "number":
        return float(node.get("minimum", 1))
    if kind == "boolean":
        return False
    formats = {
        "date-time": "2026-03-02T09:00:00Z",
        "date": "2026-03-02",
        "email": "probe@probe.test",
        "uri": "http://x.test/",
    }
    return formats.get(node.get("format", ""), "probe")


def _api_inputs(
    world: World, route: Route, method: str
) -> tuple[tuple[str, ...], dict[str, Any] | None, tuple[str, ...]]:
    schema = api_schema()
    operation = schema["paths"].get(_schema_path(route), {}).get(method.lower(), {})
    query = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
    actions = getattr(route.callback, "actions", None) or {}
    if actions and actions.get(method.lower()) != "list":  # a viewset's filters are its list's
        query = tuple(name for name in query if name in ("page", "page_size"))
    body: dict[str, Any] | None = None
    if method in ("POST", "PUT", "PATCH"):
        content = operation.get("requestBody", {}).get("content", {})
        node = content.get("application/json") or content.get("multipart/form-data")
        sampled = sample(schema, node["schema"]) if node else {}
        body = {**(sampled if isinstance(sampled, dict) else {}), **SANE.get((route.name, method), {})}
        hours = world.instances["business_hours"][0].value
        body = {k: hours if v == "{business_hours}" else v for k, v in body.items()}
    cls = getattr(route.callback, "cls", None)
    parsers = getattr(cls, "parser_classes", ()) if cls else ()
    files = (
        ("attachments",) if method == "POST" and any(issubclass(p, MultiPartParser) for p in parsers) else ()
    )
    return query, body, files


# --- the pages' forms ---------------------------------------------------------------------------


def page_forms(world: World, routes: list[Route]) -> dict[tuple[str, str, str], Form]:
    """Every form of every GET page, by (family, url name of its action, method)."""
    found: dict[tuple[str, str, str], Form] = {}
    for route in routes:
        if route.family == API or "GET" not in route.methods:
            continue
        try:
            caller, host, kwargs = _entitled(world, route)
        except Unprobed:
            continue  # its own test says so
        path = route.url(**kwargs)
        sent = world.send(world.caller(caller), "GET", host, path)
        if sent.status != 200:
            continue
        parser = _Forms()
        parser.feed(sent.text)
        links = [
            (href, Form(method="GET", fields={k: v for k, v in parse_qs(urlsplit(href).query).items()}))
            for href in parser.links
        ]
        for action, form in [*parser.forms, *links]:
            target = urlsplit(action).path or path
            try:
                match = resolve(target, urlconf=route.urlconf)
            except Resolver404:
                continue
            name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
            key = (route.family, name or "", form.method)
            known = found.setdefault(key, Form(method=form.method))
            for field_name, values in form.fields.items():
                if field_name not in IGNORED_FIELDS:
                    known.fields.setdefault(field_name, values)
            known.files.extend(f for f in form.files if f not in known.files)
    return found


def _page_inputs(
    forms: dict[tuple[str, str, str], Form], route: Route, method: str
) -> tuple[tuple[str, ...], dict[str, Any] | None, tuple[str, ...]]:
    """A page's query parameters (its GET forms' fields and the pager's) and, for a write, the
    fields and file inputs of the forms that post to it. A route that only takes writes but
    no form of the crawl posts to (a button shown in other states) gets the generic fields."""
    if method == "GET":
        get_form = forms.get((route.family, route.name, "GET"))  # filters, pager and tab links
        return (tuple(dict.fromkeys((*get_form.fields, *PAGE_QUERY))) if get_form else ()), None, ()
    post_form = forms.get((route.family, route.name, "POST"))
    if post_form is not None:
        fields = post_form.fields
    elif "GET" in route.methods:
        fields = {}  # a page that does not take this write: only whole bodies are sent
    else:
        fields = {k: [v] for k, v in WRITE_FIELDS.items()}
    body = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
    return (), body, tuple(post_form.files) if post_form else ()


def targets(world: World, routes: list[Route]) -> list[Target]:
    forms = page_forms(world, routes)
    made = []
    for route in routes:
        try:
            caller, host, kwargs = _entitled(world, route)
        except Unprobed as exc:
            made += [
                Target(route, method, ANONYMOUS, "", {}, (), None, unprobed=str(exc))
                for method in route.methods
            ]
            continue
        for method in route.methods:
            if route.family == API:
                query, body, files = _api_inputs(world, route, method)
            else:
                query, body, files = _page_inputs(forms, route, method)
            made.append(
                Target(route, method, caller, host, kwargs, query if method == "GET" else (), body, files)
            )
    return made
