"""Parent chains: loops refused (also under concurrent edits), customers never crossed, and the
effective SLA policy with the reason that names the CI that decided."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from audit.context import job_context
from cmdb import selectors, services
from cmdb.models import ConfigurationItem
from core.errors import RuleViolation
from tenants.schema import customer_schema
from tests.cmdb.conftest import CIS, chain, make_ci, policy
from tests.conftest import Cast, api_for


def _reparent(cast: Cast, ci: ConfigurationItem, parent: ConfigurationItem | None) -> ConfigurationItem:
    with customer_schema(cast.acme):
        return services.ci_update(
            customer=cast.acme, ci=ci, by=None, changes=services.CiChanges(parent=parent)
        )


def test_a_ci_cannot_be_its_own_parent(cast: Cast) -> None:
    (rack,) = chain(cast, ["rack-1"])
    with pytest.raises(RuleViolation) as refused:
        _reparent(cast, rack, rack)
    assert refused.value.code == "parent_loop" and "rack-1 cannot be its own parent" in refused.value.detail


def test_a_direct_loop_is_refused_with_the_chain_named(cast: Cast) -> None:
    rack, server = chain(cast, ["rack-1", "srv-1"])
    with pytest.raises(RuleViolation) as refused:
        _reparent(cast, rack, server)
    assert refused.value.field == "parent"
    assert refused.value.detail == (
        "srv-1 cannot be the parent of rack-1: srv-1 is already below rack-1 (rack-1 → srv-1), "
        "and a parent chain cannot loop."
    )
    with customer_schema(cast.acme):
        assert ConfigurationItem.objects.get(pk=rack.pk).parent_id is None  # nothing written


def test_a_loop_through_a_long_chain_is_refused(cast: Cast) -> None:
    cis = chain(cast, [f"node-{i:02}" for i in range(30)])
    with pytest.raises(RuleViolation) as refused:
        _reparent(cast, cis[0], cis[-1])
    assert "node-00 → node-01 → node-02" in refused.value.detail and "node-29)" in refused.value.detail
    # Moving a branch elsewhere in the same tree is fine.
    _reparent(cast, cis[20], cis[5])
    with customer_schema(cast.acme):
        assert selectors.ancestors(cis[29])[:10] == [(c.pk, c.name) for c in reversed(cis[20:29])] + [
            (cis[5].pk, "node-05")
        ]


def test_the_api_refuses_a_loop_with_400_naming_the_parent_field(cast: Cast) -> None:
    a, _, c = chain(cast, ["a-1", "b-1", "c-1"])
    response = api_for(cast.bob).patch(f"{CIS}{a.pk}/", {"parent": c.pk}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parent_loop" and "a-1 → b-1 → c-1" in body["detail"]
    assert body["fields"] == {"parent": [body["detail"]]}


def _committed(body: Callable[[], Any]) -> Any:
    """Run ``body`` on a connection of its own (a thread), committed, as the job "tests"; return
    its result or the exception it raised. The test's own connection is a rolled-back
    transaction that other connections cannot see into."""
    outcome: list[Any] = []

    def wrapped() -> None:
        try:
            with job_context("tests"):
                outcome.append(body())
        except Exception as exc:  # noqa: BLE001 (handed to the test)
            outcome.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=wrapped)
    thread.start()
    thread.join(30)
    return outcome[0] if outcome else TimeoutError("the thread did not finish")


def test_concurrent_edits_cannot_build_a_loop_between_them(cast: Cast) -> None:
    """left.parent = right and right.parent = left at the same time: the first holds the
    hierarchy lock until it commits; the second then sees the new chain and is refused."""
    left, right = _committed(lambda: [make_ci(cast.acme, "race-left"), make_ci(cast.acme, "race-right")])
    first_inside, release_first = threading.Event(), threading.Event()

    def first() -> str:
        with customer_schema(cast.acme), transaction.atomic():
            services.ci_update(customer=cast.acme, ci=left, by=None, changes=services.CiChanges(parent=right))
            first_inside.set()
            release_first.wait(10)  # the lock is held, the change not yet committed
        return "ok"

    def second() -> str:
        first_inside.wait(10)
        _reparent(cast, right, left)
        return "ok"

    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=lambda: results.update(first=_committed(first))),
        threading.Thread(target=lambda: results.update(second=_committed(second))),
    ]
    try:
        for thread in threads:
            thread.start()
        assert first_inside.wait(10)
        threading.Event().wait(0.5)
        assert "second" not in results, "the second edit must wait for the first one's lock"
        release_first.set()
        for thread in threads:
            thread.join(30)
        assert results["first"] == "ok"
        refused = results["second"]
        assert isinstance(refused, RuleViolation) and refused.code == "parent_loop", refused

        def parents() -> tuple[int | None, int | None]:
            with customer_schema(cast.acme):
                rows = dict(
                    ConfigurationItem.objects.filter(pk__in=[left.pk, right.pk]).values_list("pk", "parent")
                )
            return rows[left.pk], rows[right.pk]

        assert _committed(parents) == (right.pk, None)
    finally:
        release_first.set()

        def remove() -> None:
            with customer_schema(cast.acme):
                ConfigurationItem.objects.filter(pk__in=[left.pk, right.pk]).update(parent=None)
                for ci in ConfigurationItem.objects.filter(pk__in=[left.pk, right.pk]):
                    services.ci_delete(customer=cast.acme, ci=ci, by=None)

        _committed(remove)


def test_ci_ids_are_unique_across_customers(cast: Cast) -> None:
    """One id sequence for every customer's CIs: an id never means two CIs."""
    ids = [make_ci(customer, f"same-name-{n}").pk for n in range(3) for customer in (cast.acme, cast.globex)]
    assert len(set(ids)) == len(ids)


def test_a_parent_from_another_customer_is_not_found(cast: Cast) -> None:
    """CIs live in the customer's schema: another customer's CI id or name does not exist here,
    however many CIs this customer has."""
    for n in range(3):
        make_ci(cast.acme, f"acme-{n}")
    globex_rack = make_ci(cast.globex, "globex-rack")
    client = api_for(cast.bob)
    response = client.post(CIS, {"name": "srv-9", "type": "server", "parent": globex_rack.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "parent": [f"No CI '{globex_rack.pk}' in this customer (give a CI id or name)."]
    }
    by_name = client.post(CIS, {"name": "srv-9", "type": "server", "parent": "globex-rack"}, format="json")
    assert by_name.status_code == 400 and "globex-rack" in by_name.json()["fields"]["parent"][0]
    acme_ci = make_ci(cast.acme, "acme-x")
    moved = client.patch(f"{CIS}{acme_ci.pk}/", {"parent": globex_rack.pk}, format="json")
    assert moved.status_code == 400 and "parent" in moved.json()["fields"]
    with customer_schema(cast.acme):
        assert not ConfigurationItem.objects.filter(name="srv-9").exists()
        assert ConfigurationItem.objects.get(pk=acme_ci.pk).parent_id is None


def test_a_relation_to_another_customers_ci_is_not_found(cast: Cast) -> None:
    globex_switch = make_ci(cast.globex, "globex-switch", "network")
    acme_server = make_ci(cast.acme, "acme-srv")
    response = api_for(cast.bob).post(
        f"{CIS}{acme_server.pk}/relations/",
        {"kind": "connected_to", "target": "globex-switch"},
        format="json",
    )
    assert response.status_code == 400 and "globex-switch" in response.json()["fields"]["target"][0]
    assert globex_switch.pk


def test_a_ticket_cannot_link_another_customers_ci(cast: Cast) -> None:
    globex_laptop = make_ci(cast.globex, "globex-laptop", "workstation")
    response = api_for(cast.bob).post(
        "/api/v1/customers/acme/tickets/", {"subject": "Broken", "ci": "globex-laptop"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "ci": ["No CI 'globex-laptop' in this customer (give a CI id or name)."]
    }
    assert globex_laptop.pk


# --- effective policy ----------------------------------------------------------------------------


def test_a_ci_with_its_own_policy(cast: Cast) -> None:
    gold = policy("Gold")
    (db,) = chain(cast, ["db-01"], sla_policy=gold)
    with customer_schema(cast.acme):
        effective = selectors.effective_policy(db)
    assert (effective.policy_id, effective.decided_by_name, effective.depth) == (gold.pk, "db-01", 0)
    assert effective.reason == "db-01 has its own policy 'Gold'"


def test_inheritance_at_depth_1_names_the_parent(cast: Cast) -> None:
    gold = policy("Gold")
    rack, db = chain(cast, ["rack-3", "db-01"], sla_policy=gold)
    body = api_for(cast.bob).get(f"{CIS}{db.pk}/").json()
    assert body["effective_sla"] == {
        "policy": {"id": gold.pk, "name": "Gold"},
        "source": "ci",
        "reason": "db-01 inherits 'Gold' from parent rack-3",
        "ci": {"id": rack.pk, "name": "rack-3"},
        "inherited": True,
        "depth": 1,
    }
    assert body["sla_policy"] is None


def test_inheritance_at_depth_10_takes_the_nearest_ancestor_in_one_query(cast: Cast) -> None:
    silver, gold = policy("Silver"), policy("Gold")
    cis = chain(cast, [f"level-{i}" for i in range(12)], sla_policy=silver)
    with customer_schema(cast.acme):
        services.ci_update(
            customer=cast.acme, ci=cis[1], by=None, changes=services.CiChanges(sla_policy=gold)
        )
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            effective = selectors.effective_policy(cis[11])
    statements = [q["sql"] for q in queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) == 1, statements
    assert (effective.policy_name, effective.decided_by_name, effective.depth) == ("Gold", "level-1", 10)
    assert effective.reason == "level-11 inherits 'Gold' from ancestor level-1 (10 levels up)"


def test_no_policy_anywhere_in_the_chain(cast: Cast) -> None:
    _, leaf = chain(cast, ["site-1", "pc-7"])
    body = api_for(cast.bob).get(f"{CIS}{leaf.pk}/").json()["effective_sla"]
    assert body["policy"] is None and body["source"] is None and body["ci"] is None
    assert body["reason"] == "pc-7 has no SLA policy and no parent with one"


def test_a_list_computes_every_effective_policy_in_one_query(cast: Cast) -> None:
    gold = policy("Gold")
    roots = [make_ci(cast.acme, f"root-{i}", sla_policy=gold if i % 2 else None) for i in range(4)]
    for i, root in enumerate(roots):
        make_ci(cast.acme, f"leaf-{i}", parent=root)
    listed = api_for(cast.bob).get(f"{CIS}?search=leaf-").json()["results"]
    reasons = {row["name"]: row["effective_sla"]["reason"] for row in listed}
    assert reasons == {
        "leaf-0": "leaf-0 has no SLA policy and no parent with one",
        "leaf-1": "leaf-1 inherits 'Gold' from parent root-1",
        "leaf-2": "leaf-2 has no SLA policy and no parent with one",
        "leaf-3": "leaf-3 inherits 'Gold' from parent root-3",
    }
