"""Spoiling one input of an otherwise valid request (``inputs.Target``) and sending it."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import strategies as st

from tests.probes import nasty
from tests.probes.inputs import Target
from tests.probes.nasty import Kind
from tests.probes.world import ANONYMOUS, World

PATH, QUERY, FIELD, INSIDE, BODY = "path", "query", "field", "inside", "body"

# Whole bodies: what JSON parsers, form parsers and upload handlers get instead of a body.
JSON_BODIES = (
    Kind("deep JSON body", (nasty.Deep(1_000), nasty.Deep(1_000, "{")), nasty.deep),
    Kind("not an object", ([1], "x", 2**63), nasty.structure | nasty.huge_number | nasty.odd_word),
    Kind(
        "broken bytes", (b"\xff\xfe{",), st.sampled_from([b'{"a": "\xc3\x28"}', b"\x00", b'{"a":1', b"{" * 5])
    ),
)
FORM_BODIES = (
    Kind(
        "broken bytes", (b"a=%ff%fe&b=%00",), st.sampled_from([b"%00=%00", b"a=1&" * 3000, b"\xff\xfe=\xff"])
    ),
)
FILE_NAMES = st.builds(
    lambda char, size, suffix: char * size + suffix,
    st.sampled_from(["é", "名", "😀", "x", "\u202e"]),
    st.integers(min_value=200, max_value=260),
    st.sampled_from([".txt", ".log", "", ".t\x00xt", ".txt" + "é" * 20]),
)
UPLOADS = (Kind("long file name", ("é" * 200 + ".txt", "名" * 200 + ".log"), FILE_NAMES),)


@dataclass(frozen=True)
class Point:
    """One input of a request: where it goes, its name, the kinds of bad value it gets. For an
    ``INSIDE`` point, ``paths`` are the places inside the field's JSON value it can go."""

    where: str
    name: str
    kinds: tuple[Kind, ...]
    paths: tuple[tuple[str | int, ...], ...] = ()

    def __str__(self) -> str:
        return f"{self.where} {self.name}".strip()


@dataclass(frozen=True)
class Failure:
    point: str
    kind: str
    value: Any
    status: int
    cause: str  # the exception and the project line it came through, or the body's start
    origin: str  # the exception's type and that line

    def input(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 100 else shown[:97] + "..."
        return f"{self.point} = {shown} ({self.kind})"

    def __str__(self) -> str:
        return f"{self.input()}: {self.status} {self.cause}"


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths to the scalars inside a JSON value (the first item of each list only)."""
    if isinstance(value, dict) and value:
        return [leaf for key, inner in value.items() for leaf in _leaves(inner, (*path, key))]
    if isinstance(value, list) and value:
        return _leaves(value[0], (*path, 0))
    return [path] if path else []


def points_of(target: Target) -> list[Point]:
    points = [Point(PATH, kwarg, nasty.TEXT_KINDS) for kwarg in target.route.kwargs]
    for name in target.query:
        extra = (cursor_kind(),) if name == "cursor" else ()
        points.append(Point(QUERY, name, (*nasty.TEXT_KINDS, *extra)))
    if target.body is not None:
        kinds = nasty.JSON_KINDS if target.api else nasty.TEXT_KINDS
        for name, value in target.body.items():
            points.append(Point(FIELD, name, kinds))
            if target.api and (leaves := _leaves(value)):
                points.append(Point(INSIDE, name, kinds, tuple(leaves)))
        points.append(Point(BODY, "", JSON_BODIES if target.api else FORM_BODIES))
        if target.files:
            points.append(Point(BODY, "upload", UPLOADS))
    return points


# A valid cursor of the unified queue (the test module finds one first).
_valid_cursor: dict[str, str] = {}


def remember_cursor(cursor: str) -> None:
    _valid_cursor["cursor"] = cursor


def cursor_kind() -> Kind:
    valid = _valid_cursor.get("cursor")
    seeds: tuple[str, ...] = ("Infinity", "\x00")
    if valid:
        seeds += (
            nasty.cursor_with(valid, "k0", "0001-01-01T00:00:00+23:59"),
            nasty.cursor_with(valid, "k1", 10**30),
        )
    return Kind("tampered cursor", seeds, nasty.tampered_cursor(valid))


def _path(target: Target, spoiled: dict[str, Any]) -> str:
    values = {**target.kwargs, **spoiled}

    def value(match: re.Match[str]) -> str:
        return quote(str(values[match[1]]), safe="")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, target.route.path)


def _form_value(value: Any) -> str:
    return value.text() if isinstance(value, nasty.Deep) else str(value)


def _plain(value: Any) -> str:
    """A JSON field's value as a multipart form field."""
    return (
        value
        if isinstance(value, str)
        else nasty.json_text(value)
        if isinstance(value, dict | list | nasty.Deep)
        else str(value)
    )


def _set_inside(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return copy


Spoil = tuple[Point, Any, Any]  # (the input, its bad value, where inside a JSON field)


def _request(target: Target, spoils: list[Spoil]) -> tuple[str, bytes, str]:
    """(path with query, body, content type) of the valid request with the ``spoils`` made."""
    kwargs = {point.name: value for point, value, _ in spoils if point.where == PATH}
    path = _path(target, kwargs)
    query = [(point.name, _form_value(value)) for point, value, _ in spoils if point.where == QUERY]
    if query:
        path += "?" + urlencode(query)
    body = dict(target.body or {})
    for point, value, where in spoils:
        if point.where == FIELD:
            body[point.name] = value
        elif point.where == INSIDE and isinstance(body.get(point.name), dict | list):
            body[point.name] = _set_inside(body[point.name], where, value)
    whole = [(point, value) for point, value, _ in spoils if point.where == BODY]
    if whole and whole[-1][0].name == "upload":
        upload = SimpleUploadedFile(whole[-1][1], b"probe\n", content_type="text/plain")
        fields = {k: v if isinstance(v, list) else _plain(v) for k, v in body.items()}
        data = {**fields, **{name: [upload] for name in target.files}}
        return path, encode_multipart(BOUNDARY, data), MULTIPART_CONTENT
    if whole:
        value = whole[-1][1]
        raw = value if isinstance(value, bytes) else nasty.json_text(value).encode()
        return path, raw, "application/json" if target.api else "application/x-www-form-urlencoded"
    if target.body is None:
        return path, b"", "application/octet-stream"
    if target.api:
        return path, nasty.json_text(body).encode(), "application/json"
    pairs = [(k, _form_value(x)) for k, v in body.items() for x in (v if isinstance(v, list) else [v])]
    return path, urlencode(pairs).encode(), "application/x-www-form-urlencoded"


def valid_request(target: Target) -> tuple[str, bytes, str]:
    """(path with query, body, content type) of ``target``'s valid request, nothing spoiled."""
    return _request(target, [])


def signed_out(world: World, target: Target) -> bool:
    """Does the route turn an anonymous caller away as it is (401 not_authenticated, or the
    sign-in redirect)? A 401 for wrong credentials is the route serving them."""
    path, body, content_type = _request(target, [])
    sent = world.send(
        world.caller(ANONYMOUS), target.method, target.host, path, body=body, content_type=content_type
    )
    if target.api:
        answer = sent.json()
        return sent.status == 401 and isinstance(answer, dict) and answer.get("code") == "not_authenticated"
    return sent.status == 302 and sent.location.startswith("/login/")


def reaches_the_route(target: Target, point: Point, value: Any) -> bool:
    """A path argument the route's converter would not match is a 404 of the resolver: not sent."""
    if point.where != PATH:
        return True
    return re.fullmatch(target.route.converters[point.name], str(value)) is not None


@contextmanager
def production_recursion_limit() -> Iterator[None]:
    """Hypothesis raises the recursion limit while it runs a test; a web server does not. Deep
    JSON must meet the limit the application really has."""
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(raised)


RECURSION_LIMIT = sys.getrecursionlimit()  # as imported, before any hypothesis test runs


def send_spoiled(
    world: World, target: Target, caller: str, spoils: list[tuple[Point, Kind, Any, Any]]
) -> Failure | None:
    """Send the valid request with each (input, kind, value, place) of ``spoils`` made; the
    failure, if the answer is a 5xx."""
    if not all(reaches_the_route(target, point, value) for point, _, value, _ in spoils):
        return None
    path, body, content_type = _request(target, [(point, value, where) for point, _, value, where in spoils])
    with production_recursion_limit():
        sent = world.send(
            world.caller(caller), target.method, target.host, path, body=body, content_type=content_type
        )
    if sent.status < 500:
        return None
    cause = sent.cause or f"(no exception) {sent.text[:120]!r}"
    points = ", ".join(
        f"{point} at {'.'.join(map(str, where))}" if where else str(point) for point, *_, where in spoils
    )
    kinds = ", ".join(kind.name for _, kind, _, _ in spoils)
    values = [value for _, _, value, _ in spoils]
    value = values[0] if len(values) == 1 else values
    return Failure(points, kinds, value, sent.status, cause, sent.origin or cause)
