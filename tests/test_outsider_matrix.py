"""The outsider matrix, generated from the URL resolvers: every route of the API, the console and
the portals that takes a customer or an object id, for every member of the cast, every object
its arguments can name (in Acme and in Globex, with the same ids) and every method it serves.

Whoever may not see an object gets the generic 404 and nothing of it; whoever may see it gets
through (not a 404). A route whose path arguments the matrix does not know fails, saying what
to add (tests/probes/matrix.py: KWARG_KINDS, PK_KINDS; tests/probes/world.py: BUILDERS).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.probes.matrix import THROUGH, Probe, Unprobed, kinds_of, probes_for, run
from tests.probes.routes import Route, all_routes
from tests.probes.world import World, module_world

ROUTES = all_routes()
WITH_IDS = [route for route in ROUTES if route.kwargs]


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("probe-media"))


def _run(world: World, route: Route, probes: list[Probe]) -> list[str]:
    failures = []
    for probe in probes:
        wrong = run(world, probe, route.family)
        if wrong is not None:
            failures.append(f"{probe}: {wrong}")
    return failures


def test_the_resolver_walk_finds_the_routes_the_matrix_is_about() -> None:
    names = {route.name for route in WITH_IDS}
    assert {
        "api:ticket-detail",
        "console-ticket",
        "portal-ticket",
        "api:agent-detail",
        "token-revoke",
    } <= names
    assert len(WITH_IDS) >= 40, [str(route) for route in WITH_IDS]


def test_every_route_with_an_id_has_a_probe() -> None:
    missing = []
    for route in WITH_IDS:
        try:
            kinds_of(route)
        except Unprobed as exc:
            missing.append(str(exc))
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("route", WITH_IDS, ids=[route.id for route in WITH_IDS])
def test_outsiders_get_the_generic_404_and_nothing_of_the_object(
    world: World, db: None, route: Route
) -> None:
    try:
        probes = [probe for probe in probes_for(world, route) if probe.expect != THROUGH]
    except Unprobed as exc:
        pytest.fail(str(exc))
    assert probes, f"{route}: no outsider probe (is every object of its kinds visible to everyone?)"
    failures = _run(world, route, probes)
    assert not failures, f"{route}: {len(failures)} of {len(probes)} probes failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("route", WITH_IDS, ids=[route.id for route in WITH_IDS])
def test_those_who_may_see_the_object_get_through(world: World, db: None, route: Route) -> None:
    try:
        probes = [probe for probe in probes_for(world, route) if probe.expect == THROUGH]
    except Unprobed as exc:
        pytest.fail(str(exc))
    assert probes, f"{route}: nobody of the cast may see any object it names: the route is not probed"
    failures = _run(world, route, probes)
    assert not failures, f"{route}: {len(failures)} of {len(probes)} probes failed:\n" + "\n".join(failures)
