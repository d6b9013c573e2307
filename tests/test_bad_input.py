"""Bad input never makes a route fail (5xx), on any route the URL resolvers know, with any method
it serves: a property test. For every input a route reads (path arguments, query parameters,
JSON fields, form fields, uploads; found from the API schema and the pages' own forms, see
tests/probes/inputs.py) and every class of bad value (tests/probes/nasty.py: unicode digits,
NUL bytes, huge numbers, over-long text, extreme dates, odd words, wrong JSON types, documents
nested beyond recursion limits, tampered cursors, long non-ASCII file names), hypothesis draws a
value and the otherwise valid request is sent, signed in as someone who may use the route, and
anonymously. The run is derandomized (same values every run) and bounded (EXAMPLES sweeps).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import CONSOLE_HOST
from tests.probes.fuzz import PATH, Failure, Point, points_of, remember_cursor, send_spoiled, signed_out
from tests.probes.inputs import Target, targets
from tests.probes.nasty import Kind
from tests.probes.routes import all_routes
from tests.probes.world import ANONYMOUS, World, module_world

ROUTES = all_routes()
PAIRS = [(route, method) for route in ROUTES for method in route.methods]
IDS = [f"{route.id} {method}" for route, method in PAIRS]
# Hypothesis examples per route and method, after the seeds: each spoils any of the request's
# inputs at once, with values hypothesis draws from their kinds. The same values every run.
EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", "10"))


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("bad-input-media"))


@pytest.fixture(scope="module")
def known(world: World) -> dict[tuple[str, str], Target]:
    """The valid request of every route and method, and a valid cursor of the unified queue."""
    page = world.send(world.caller("alice"), "GET", CONSOLE_HOST, "/api/v1/tickets/?page_size=1").json()
    assert page["next"], "the unified queue has one page only: no cursor to tamper with"
    remember_cursor(parse_qs(urlsplit(page["next"]).query)["cursor"][0])
    return {(target.route.id, target.method): target for target in targets(world, ROUTES)}


def _sweep(
    world: World, target: Target, caller: str, points: list[Point], *, examples: int = EXAMPLES
) -> dict[str, list[Failure]]:
    """Every seed of every kind at every input, one input at a time; then the property: any
    inputs spoiled at once, with any values of their kinds (anywhere inside a JSON field),
    never give a 5xx. Failures by origin (exception type and line: what one fix fixes)."""
    failures: dict[str, list[Failure]] = {}

    def send(spoils: list[tuple[Point, Kind, Any, Any]]) -> None:
        failure = send_spoiled(world, target, caller, spoils)
        if failure is not None:
            failures.setdefault(failure.origin, []).append(failure)

    for point in points:
        for kind in point.kinds:
            for seed in kind.seeds:
                send([(point, kind, seed, point.paths[0] if point.paths else None)])

    @settings(
        max_examples=max(examples, 1),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def any_inputs_any_values(data: st.DataObject) -> None:
        spoils = []
        for point in points:
            if data.draw(st.sampled_from((False, False, True)), label=f"spoil {point}?"):
                kind = data.draw(st.sampled_from(point.kinds), label=f"kind for {point}")
                where = data.draw(st.sampled_from(point.paths), label="place") if point.paths else None
                spoils.append((point, kind, data.draw(kind.values, label=f"{point} ({kind.name})"), where))
        if spoils:
            send(spoils)

    if examples and points:
        any_inputs_any_values()
    return failures


def _report(target: Target, caller: str, failures: dict[str, list[Failure]]) -> str:
    """Each origin once: the first failure's status and cause, then the inputs that reach it."""
    lines = [f"{target.method} {target.route} as {caller}: {len(failures)} server error(s):"]
    for found in failures.values():
        lines.append(f"  {found[0].status} {found[0].cause}")
        inputs = list(dict.fromkeys(failure.input() for failure in found))
        more = f" (and {len(inputs) - 6} more)" if len(inputs) > 6 else ""
        lines.append(f"    from: {'; '.join(inputs[:6])}{more}")
    return "\n".join(lines)


@pytest.mark.parametrize(("route", "method"), PAIRS, ids=IDS)
def test_bad_input_is_never_a_server_error(world: World, known, db: None, route, method: str) -> None:
    target = known[(route.id, method)]
    if target.unprobed:
        pytest.fail(target.unprobed)
    failures = _sweep(world, target, target.caller, points_of(target))
    assert not failures, _report(target, target.caller, failures)


@pytest.mark.parametrize(("route", "method"), PAIRS, ids=IDS)
def test_bad_input_is_never_a_server_error_anonymously(
    world: World, known, db: None, route, method: str
) -> None:
    """Where the route turns anonymous callers away, only the seeds in its path arguments (read
    before the sign-in check); where it serves them (signing in, activation links, the health
    check, the schema) everything."""
    target = known[(route.id, method)]
    if target.unprobed:
        pytest.fail(target.unprobed)
    if signed_out(world, target):
        points = [point for point in points_of(target) if point.where == PATH]
        failures = _sweep(world, target, ANONYMOUS, points, examples=0)
    else:
        failures = _sweep(world, target, ANONYMOUS, points_of(target))
    assert not failures, _report(target, ANONYMOUS, failures)
