"""The CI API of one customer: create, read, filter, change, retire, delete; relations; asset
counts; ticket links; who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.inventory.models import AssetCount
from cmdb.models import ConfigurationItem
from tenants.access import POLICY_REFUSAL
from tenants.schema import customer_schema
from tests.cmdb.conftest import CIS, make_ci, policy
from tests.conftest import Cast, api_for
from tests.support.clients import console

TICKETS = "/api/v1/customers/acme/tickets/"


def create(user: Any, **payload: Any) -> Any:
    return api_for(user).post(CIS, {"type": "server", **payload}, format="json")


def created(user: Any, **payload: Any) -> dict[str, Any]:
    response = create(user, **payload)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def counts(cast: Cast) -> dict[tuple[str, str], int]:
    rows = AssetCount.objects.filter(customer=cast.acme, count__gt=0)
    return {(row.type, row.status): row.count for row in rows}


def test_an_agent_creates_a_ci_with_every_field(cast: Cast) -> None:
    gold = policy("Gold")
    rack = created(cast.bob, name="rack-3", type="other")
    ci = created(
        cast.bob,
        name="db-01",
        type="server",
        status="maintenance",
        owner="user@acme.test",
        parent=rack["id"],
        sla_policy=gold.pk,
        attributes={"os": "Debian 12", "ram_gb": 64, "disks": ["sda", "sdb"]},
    )
    assert ci["name"] == "db-01" and ci["type"] == "server" and ci["status"] == "maintenance"
    assert ci["owner"] == cast.profile(cast.acme_user).pk and ci["owner_name"] == "user"
    assert ci["parent"] == rack["id"] and ci["parent_name"] == "rack-3"
    assert ci["sla_policy"] == gold.pk and ci["attributes"]["ram_gb"] == 64
    assert ci["effective_sla"]["reason"] == "db-01 has its own policy 'Gold'"
    assert ci["retired_at"] is None and ci["created_at"] and ci["updated_at"]
    assert api_for(cast.bob).get(f"{CIS}{ci['id']}/").json() == ci


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"name": ""}, "name", "This field may not be blank."),
        ({"name": "x" * 101}, "name", "no more than 100 characters"),
        ({"type": "toaster"}, "type", '"toaster" is not a valid choice.'),
        ({"status": "gone"}, "status", '"gone" is not a valid choice.'),
        ({"attributes": ["a", "list"]}, "attributes", "Give a JSON object"),
        ({"attributes": {"blob": "x" * 20_000}}, "attributes", "At most 16384 bytes of JSON"),
        ({"attributes": {str(i): i for i in range(101)}}, "attributes", "At most 100 keys"),
        ({"owner": "nobody@acme.test"}, "owner", "No user 'nobody@acme.test' in this customer"),
        ({"owner": "user@globex.test"}, "owner", "No user 'user@globex.test' in this customer"),
        ({"parent": "no-such-ci"}, "parent", "No CI 'no-such-ci' in this customer"),
        ({"sla_policy": 999_999}, "sla_policy", "Invalid pk"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    cast: Cast, payload: dict[str, Any], field: str, message: str
) -> None:
    response = create(cast.bob, **{"name": "srv-1", **payload})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and message in " ".join(body["fields"][field])
    with customer_schema(cast.acme):
        assert not ConfigurationItem.objects.exists()
    assert counts(cast) == {}


def test_names_are_unique_per_customer_ignoring_case(cast: Cast) -> None:
    created(cast.bob, name="DB-01")
    response = create(cast.bob, name=" db-01 ")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "name": ["This customer already has a CI named 'DB-01' (names ignore case)."]
    }
    other = created(cast.bob, name="db-02")
    renamed = api_for(cast.bob).patch(f"{CIS}{other['id']}/", {"name": "Db-01"}, format="json")
    assert renamed.status_code == 400 and "DB-01" in renamed.json()["detail"]
    # Another customer may use the same name: its CMDB is its own.
    globex = api_for(cast.alice).post(
        "/api/v1/customers/globex/cis/", {"name": "db-01", "type": "server"}, format="json"
    )
    assert globex.status_code == 201


def test_filters_by_type_status_parent_owner_and_name(cast: Cast) -> None:
    rack = created(cast.bob, name="rack-1", type="other")
    created(cast.bob, name="web-01", parent=rack["id"])
    created(cast.bob, name="web-02", parent=rack["id"], status="retired")
    created(cast.bob, name="laptop-dana", type="workstation", owner="user@acme.test")
    created(cast.bob, name="core-switch", type="network")

    def names(query: str) -> list[str]:
        response = api_for(cast.bob).get(f"{CIS}?{query}")
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names("") == ["core-switch", "laptop-dana", "rack-1", "web-01", "web-02"]
    assert names("type=server") == ["web-01", "web-02"]
    assert names("type=network,workstation") == ["core-switch", "laptop-dana"]
    assert names("status=retired") == ["web-02"]
    assert names(f"parent={rack['id']}") == ["web-01", "web-02"]
    assert names("parent=none") == ["core-switch", "laptop-dana", "rack-1"]
    assert names("owner=user@acme.test") == ["laptop-dana"]
    assert names("search=WEB") == ["web-01", "web-02"]
    assert names("search=web&status=active&ordering=-name") == ["web-01"]
    body = api_for(cast.bob).get(CIS).json()
    assert body["count"] == 5 and body["next"] is None and body["previous"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=toaster", "type"),
        ("status=gone", "status"),
        ("parent=abc", "parent"),
        ("ordering=x", "ordering"),
    ],
)
def test_bad_filters_are_400_naming_them(cast: Cast, query: str, field: str) -> None:
    response = api_for(cast.bob).get(f"{CIS}?{query}")
    assert response.status_code == 400 and field in response.json()["fields"]


def test_retiring_keeps_history_and_ticket_links(cast: Cast) -> None:
    ci = created(cast.bob, name="old-nas", type="server")
    ticket = api_for(cast.bob).post(TICKETS, {"subject": "NAS slow", "ci": "old-nas"}, format="json")
    assert (
        ticket.status_code == 201
        and ticket.json()["ci"] == ci["id"]
        and ticket.json()["ci_name"] == "old-nas"
    )
    retired = api_for(cast.bob).patch(f"{CIS}{ci['id']}/", {"status": "retired"}, format="json").json()
    assert retired["status"] == "retired" and retired["retired_at"] is not None
    linked = api_for(cast.bob).get(f"{TICKETS}?ci={ci['id']}").json()["results"]
    assert [t["id"] for t in linked] == [ticket.json()["id"]]
    history = api_for(cast.bob).get(f"{CIS}{ci['id']}/history/").json()["results"]
    assert [entry["action"] for entry in history] == ["create", "update"]
    assert history[1]["changes"]["status"] == ["active", "retired"]
    assert history[1]["actor"]["email"] == "bob@msp.test" and history[1]["channel"] == "api"
    # New links go to CIs in use only.
    refused = api_for(cast.bob).post(TICKETS, {"subject": "x", "ci": ci["id"]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"ci": ["old-nas is retired; link a CI that is in use."]}
    # And back in use.
    back = api_for(cast.bob).patch(f"{CIS}{ci['id']}/", {"status": "active"}, format="json").json()
    assert back["retired_at"] is None


def test_deleting_a_ci_that_tickets_reference_is_refused(cast: Cast) -> None:
    ci = created(cast.bob, name="fw-01", type="network")
    for _ in range(2):
        api_for(cast.bob).post(TICKETS, {"subject": "Firewall", "ci": ci["id"]}, format="json")
    response = api_for(cast.bob).delete(f"{CIS}{ci['id']}/")
    assert response.status_code == 409
    assert response.json() == {
        "code": "ci_in_use",
        "detail": "fw-01 is linked to 2 tickets; retire it instead (retired CIs keep their history and "
        "ticket links).",
    }
    assert api_for(cast.bob).get(f"{CIS}{ci['id']}/").status_code == 200


def test_deleting_a_parent_is_refused_and_a_free_ci_is_deleted(cast: Cast) -> None:
    rack = created(cast.bob, name="rack-9", type="other")
    child = created(cast.bob, name="srv-9", parent=rack["id"])
    refused = api_for(cast.bob).delete(f"{CIS}{rack['id']}/")
    assert refused.status_code == 409 and refused.json()["code"] == "ci_has_children"
    assert "rack-9 is the parent of 1 CI" in refused.json()["detail"]
    assert api_for(cast.bob).delete(f"{CIS}{child['id']}/").status_code == 204
    assert api_for(cast.bob).delete(f"{CIS}{rack['id']}/").status_code == 204
    assert api_for(cast.bob).get(f"{CIS}{rack['id']}/").status_code == 404
    assert counts(cast) == {}


def test_put_is_not_the_way(cast: Cast) -> None:
    ci = created(cast.bob, name="srv-1")
    response = api_for(cast.bob).put(f"{CIS}{ci['id']}/", {"name": "x", "type": "server"}, format="json")
    assert response.status_code == 405 and "PATCH" in response.json()["detail"]


def test_relations_both_ways(cast: Cast) -> None:
    app = created(cast.bob, name="crm", type="application")
    vm = created(cast.bob, name="vm-07")
    san = created(cast.bob, name="san-1", type="other")
    url = f"{CIS}{vm['id']}/relations/"
    runs_on = api_for(cast.bob).post(
        url, {"kind": "runs_on", "target": "crm", "direction": "in"}, format="json"
    )
    assert runs_on.status_code == 201, runs_on.content
    assert runs_on.json()["summary"] == "crm runs on vm-07"
    depends = api_for(cast.bob).post(url, {"kind": "depends_on", "target": san["id"]}, format="json")
    assert depends.json()["summary"] == "vm-07 depends on san-1"
    listed = api_for(cast.bob).get(url).json()["results"]
    assert sorted(r["summary"] for r in listed) == ["crm runs on vm-07", "vm-07 depends on san-1"]
    again = api_for(cast.bob).post(url, {"kind": "depends_on", "target": "san-1"}, format="json")
    assert again.status_code == 400 and again.json()["fields"] == {
        "target": ["vm-07 already depends on san-1."]
    }
    itself = api_for(cast.bob).post(url, {"kind": "connected_to", "target": "vm-07"}, format="json")
    assert itself.status_code == 400 and "itself" in itself.json()["fields"]["target"][0]
    bad_kind = api_for(cast.bob).post(url, {"kind": "loves", "target": "san-1"}, format="json")
    assert bad_kind.status_code == 400 and "kind" in bad_kind.json()["fields"]
    removed = api_for(cast.bob).delete(f"{url}{depends.json()['id']}/")
    assert removed.status_code == 204
    assert [r["summary"] for r in api_for(cast.bob).get(url).json()["results"]] == ["crm runs on vm-07"]
    assert api_for(cast.bob).get(f"{CIS}{app['id']}/relations/").json()["count"] == 1


def test_asset_counts_follow_every_change(cast: Cast) -> None:
    a = created(cast.bob, name="srv-a")
    created(cast.bob, name="srv-b", status="maintenance")
    created(cast.bob, name="pc-1", type="workstation")
    api_for(cast.bob).patch(f"{CIS}{a['id']}/", {"status": "retired"}, format="json")
    assert counts(cast) == {
        ("server", "retired"): 1,
        ("server", "maintenance"): 1,
        ("workstation", "active"): 1,
    }
    body = api_for(cast.bob).get(f"{CIS}counts/").json()
    assert body["total"] == 3
    assert body["by_type"]["server"] == 2 and body["by_type"]["network"] == 0
    assert body["by_status"] == {"active": 1, "maintenance": 1, "retired": 1}
    assert body["by_type_and_status"]["server"] == {"active": 0, "maintenance": 1, "retired": 1}
    api_for(cast.bob).patch(f"{CIS}{a['id']}/", {"type": "workstation"}, format="json")
    assert counts(cast)[("workstation", "retired")] == 1 and ("server", "retired") not in counts(cast)


def test_customer_admins_read_all_cis_users_their_own_and_nobody_there_writes(cast: Cast) -> None:
    mine = created(cast.bob, name="laptop-user", type="workstation", owner="user@acme.test")
    other = created(cast.bob, name="laptop-user2", type="workstation", owner="user2@acme.test")
    created(cast.bob, name="srv-x")

    def names(user: Any) -> list[str]:
        return [row["name"] for row in api_for(user).get(CIS).json()["results"]]

    assert names(cast.acme_admin) == ["laptop-user", "laptop-user2", "srv-x"]
    assert names(cast.acme_user) == ["laptop-user"]
    assert api_for(cast.acme_user).get(f"{CIS}{other['id']}/").status_code == 404
    assert api_for(cast.acme_user).get(f"{CIS}counts/").json()["total"] == 1
    for user in (cast.acme_admin, cast.acme_user):
        assert create(user, name="rogue").status_code == 403
        assert api_for(user).patch(f"{CIS}{mine['id']}/", {"name": "x"}, format="json").status_code == 403
        assert api_for(user).delete(f"{CIS}{mine['id']}/").status_code == 403
    # The customer's own agents work the CMDB like the provider's.
    assert create(cast.acme_it, name="it-made").status_code == 201


def test_a_customer_user_links_their_own_ci_but_not_a_colleagues(cast: Cast) -> None:
    created(cast.bob, name="laptop-user", type="workstation", owner="user@acme.test")
    created(cast.bob, name="laptop-user2", type="workstation", owner="user2@acme.test")
    own = api_for(cast.acme_user).post(TICKETS, {"subject": "Screen", "ci": "laptop-user"}, format="json")
    assert own.status_code == 201 and own.json()["ci_name"] == "laptop-user"
    other = api_for(cast.acme_user).post(TICKETS, {"subject": "Screen", "ci": "laptop-user2"}, format="json")
    assert other.status_code == 400 and "laptop-user2" in other.json()["fields"]["ci"][0]


def test_an_agent_relinks_and_unlinks_a_tickets_ci(cast: Cast) -> None:
    created(cast.bob, name="srv-1")
    created(cast.bob, name="srv-2")
    ticket = api_for(cast.bob).post(TICKETS, {"subject": "Down", "ci": "srv-1"}, format="json").json()
    moved = api_for(cast.bob).patch(f"{TICKETS}{ticket['id']}/", {"ci": "srv-2"}, format="json").json()
    assert moved["ci_name"] == "srv-2"
    cleared = api_for(cast.bob).patch(f"{TICKETS}{ticket['id']}/", {"ci": None}, format="json").json()
    assert cleared["ci"] is None and cleared["ci_name"] is None
    history = api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/history/").json()["results"]
    assert any("ci" in entry["changes"] for entry in history)


def _queries(user: Any, url: str) -> int:
    client = api_for(user)
    client.get(url)  # warm: token, customer, content types
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("user", ["bob", "acme_admin"])
def test_the_list_query_count_does_not_grow_with_the_rows(cast: Cast, user: str) -> None:
    gold = policy("Gold")
    rack = make_ci(cast.acme, "rack", "other", sla_policy=gold)

    def add(start: int, n: int) -> None:
        for i in range(start, start + n):
            make_ci(cast.acme, f"srv-{i}", parent=rack, owner=cast.profile(cast.acme_user))

    add(0, 2)
    few = _queries(getattr(cast, user), CIS)
    add(2, 8)
    many = _queries(getattr(cast, user), CIS)
    assert few == many, (few, many)


def test_rebuild_asset_counts_reports_and_repairs_drift(cast: Cast) -> None:
    from io import StringIO

    from django.core.management import call_command

    created(cast.bob, name="srv-1")
    created(cast.bob, name="srv-2")
    AssetCount.objects.filter(customer=cast.acme).update(count=7)
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("rebuild_asset_counts", "--check", "--customer", "acme", stdout=out)
    assert exited.value.code == 1 and "acme: server/active 7→2" in out.getvalue()
    call_command("rebuild_asset_counts", "--customer", "acme", stdout=StringIO())
    assert counts(cast) == {("server", "active"): 2}
    out = StringIO()
    call_command("rebuild_asset_counts", "--check", stdout=out)
    assert "0 with drift" in out.getvalue()


# --- issue 12 ----------------------------------------------------------------------------------------


def test_customer_agents_set_any_sla_policy_on_cis_and_learned_which_exist(cast: Cast) -> None:
    """Finding 3 (CIs): the customer's own agent works the CMDB but chooses no SLA policy, on
    the API and on the console's CI form alike; an existing and an unknown id get the same 403."""
    gold = policy("Gold")
    missing = gold.pk + 1000
    ci = created(cast.acme_it, name="srv-it")
    client = api_for(cast.acme_it)
    answers = []
    for policy_id in (gold.pk, missing):
        new = create(cast.acme_it, name=f"srv-{policy_id}", sla_policy=policy_id)
        patched = client.patch(f"{CIS}{ci['id']}/", {"sla_policy": policy_id}, format="json")
        answers += [(new.status_code, new.json()), (patched.status_code, patched.json())]
    assert answers[0] == (403, {"code": "permission_denied", "detail": POLICY_REFUSAL})
    assert all(answer == answers[0] for answer in answers), answers
    with customer_schema(cast.acme):
        assert ConfigurationItem.objects.get(pk=ci["id"]).sla_policy_id is None
        assert not ConfigurationItem.objects.filter(name__in=[f"srv-{gold.pk}", f"srv-{missing}"]).exists()

    pages = console(cast.acme_it)
    form = pages.get("/customers/acme/cis/new/").content.decode()
    assert 'name="sla_policy"' not in form and "Gold" not in form  # no list of the provider's policies
    bodies = []
    for policy_id in (gold.pk, missing):
        for url in ("/customers/acme/cis/new/", f"/customers/acme/cis/{ci['id']}/edit/"):
            response = pages.post(
                url, {"name": f"web-{policy_id}", "type": "server", "sla_policy": policy_id}
            )
            assert response.status_code == 403, (url, response.status_code)
            page = response.content.decode()
            bodies.append(page[page.index('<div class="card narrow">') : page.index("</main>")])
    assert len(set(bodies)) == 1 and "only your service provider sets SLA policies" in bodies[0]
    with customer_schema(cast.acme):
        assert not ConfigurationItem.objects.filter(name__startswith="web-").exists()
    # Provider staff still choose one on the form.
    staff_form = console(cast.bob).get("/customers/acme/cis/new/").content.decode()
    assert 'name="sla_policy"' in staff_form and "Gold" in staff_form


def test_customer_users_saw_the_names_of_ancestor_cis_they_cannot_open(cast: Cast) -> None:
    """Finding 10 (API): a user who owns a laptop in rack-3 in room-1 sees neither rack's nor
    room's name: not as the parent, not in the effective SLA's reason or deciding CI."""
    gold = policy("Gold")
    room = make_ci(cast.acme, "room-1", "other", sla_policy=gold)
    rack = make_ci(cast.acme, "rack-3", "other", parent=room)
    laptop = make_ci(cast.acme, "laptop-user", "workstation", owner=cast.profile(cast.acme_user), parent=rack)
    own = make_ci(cast.acme, "phone-user", "other", owner=cast.profile(cast.acme_user), parent=laptop)
    user = api_for(cast.acme_user)
    shown = user.get(f"{CIS}{laptop.pk}/").json()
    listed = {row["name"]: row for row in user.get(CIS).json()["results"]}
    for body in (shown, listed["laptop-user"]):
        assert body["parent"] == rack.pk and body["parent_name"] is None
        sla = body["effective_sla"]
        assert sla["policy"]["name"] == "Gold" and sla["ci"] == {"id": room.pk, "name": None}
        assert sla["reason"] == "laptop-user inherits 'Gold' from ancestor a CI you cannot see (2 levels up)"
    assert "rack-3" not in str(listed) and "room-1" not in str(listed) and "rack-3" not in str(shown)
    assert listed["phone-user"]["parent_name"] == "laptop-user"  # a CI they can open is named
    # Who may open every CI sees the names.
    for reader in (cast.acme_admin, cast.bob):
        body = api_for(reader).get(f"{CIS}{laptop.pk}/").json()
        assert body["parent_name"] == "rack-3" and body["effective_sla"]["ci"]["name"] == "room-1"
        assert "from ancestor room-1" in body["effective_sla"]["reason"]
    assert own.parent_id == laptop.pk
