from __future__ import annotations

from accounts.models import AgentMembership, User
from accounts.services import AgentFields, agent_create
from audit.models import AuditEntry
from tests.conftest import Cast, api_for


def test_admin_creates_an_occasional_agent_with_memberships(cast: Cast) -> None:
    response = api_for(cast.alice).post(
        "/api/v1/agents/",
        {
            "email": "olga@msp.test",
            "name": "Olga",
            "licence": "occasional",
            "customers": ["acme", "globex"],
            "permissions": {"cmdb": "none"},
            "password": "a-long-pass-123",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customers"] == ["acme", "globex"]
    assert body["permissions"] == {"tickets": "write", "cmdb": "none", "reports": "none"}
    assert body["is_admin"] is False and "password" not in body


def test_star_means_every_customer(cast: Cast) -> None:
    response = api_for(cast.alice).post(
        "/api/v1/agents/", {"email": "all@msp.test", "name": "All", "customers": ["*"]}, format="json"
    )
    assert response.json()["customers"] == ["*"]
    assert User.objects.get(email="all@msp.test").all_customers is True


def test_unknown_customer_and_bad_scope_are_400(cast: Cast) -> None:
    client = api_for(cast.alice)
    unknown = client.post(
        "/api/v1/agents/", {"email": "z@msp.test", "name": "Z", "customers": ["nope"]}, format="json"
    )
    assert unknown.status_code == 400 and "customers" in unknown.json()["fields"]
    bad = client.post(
        "/api/v1/agents/",
        {"email": "z@msp.test", "name": "Z", "licence": "occasional", "permissions": {"cmdb": "admin"}},
        format="json",
    )
    assert bad.status_code == 400 and "permissions" in bad.json()["fields"]


def test_agents_read_but_cannot_write_agents(cast: Cast) -> None:
    client = api_for(cast.bob)
    assert client.get("/api/v1/agents/").status_code == 200
    assert (
        client.post("/api/v1/agents/", {"email": "q@msp.test", "name": "Q"}, format="json").status_code == 403
    )
    assert client.patch(f"/api/v1/agents/{cast.charlie.pk}/", {"name": "Q"}, format="json").status_code == 403


def test_patch_memberships_and_deactivate(cast: Cast) -> None:
    client = api_for(cast.alice)
    response = client.patch(f"/api/v1/agents/{cast.bob.pk}/", {"customers": ["globex"]}, format="json")
    assert response.status_code == 200 and response.json()["customers"] == ["globex"]
    assert list(AgentMembership.objects.filter(agent=cast.bob).values_list("customer__slug", flat=True)) == [
        "globex"
    ]
    assert client.delete(f"/api/v1/agents/{cast.bob.pk}/").status_code == 204
    cast.bob.refresh_from_db()
    assert cast.bob.is_active is False


def test_provider_admins_are_full_time(cast: Cast) -> None:
    client = api_for(cast.alice)
    created = client.post(
        "/api/v1/agents/",
        {"email": "boss@msp.test", "name": "Boss", "licence": "occasional", "is_admin": True},
        format="json",
    )
    assert created.status_code == 400 and list(created.json()["fields"]) == ["licence"]
    assert "Provider admins are full-time agents" in created.json()["fields"]["licence"][0]
    assert not User.objects.filter(email="boss@msp.test").exists()
    for change in ({"is_admin": True}, {"is_admin": True, "licence": "occasional"}):  # charlie is occasional
        refused = client.patch(f"/api/v1/agents/{cast.charlie.pk}/", change, format="json")
        assert refused.status_code == 400 and list(refused.json()["fields"]) == ["licence"], change
    made_occasional = client.patch(
        f"/api/v1/agents/{cast.alice.pk}/", {"licence": "occasional"}, format="json"
    )
    assert made_occasional.status_code == 400 and "licence" in made_occasional.json()["fields"]
    cast.charlie.refresh_from_db()
    cast.alice.refresh_from_db()
    assert (cast.charlie.kind, cast.charlie.licence) == ("agent", "occasional")
    assert (cast.alice.kind, cast.alice.licence) == ("provider_admin", "full_time")
    # Full-time first, then admin: fine.
    promoted = client.patch(
        f"/api/v1/agents/{cast.charlie.pk}/", {"licence": "full_time", "is_admin": True}, format="json"
    )
    assert promoted.status_code == 200 and promoted.json()["is_admin"] is True


def test_licence_changes_are_audited_with_the_acting_admin(cast: Cast) -> None:
    response = api_for(cast.alice).patch(
        f"/api/v1/agents/{cast.bob.pk}/", {"licence": "occasional"}, format="json"
    )
    assert response.status_code == 200 and response.json()["permissions"] == {
        "tickets": "write",
        "cmdb": "read",
        "reports": "none",
    }
    entry = AuditEntry.objects.filter(
        object_pk=str(cast.bob.pk), action=AuditEntry.Action.UPDATE, changes__has_key="licence"
    ).get()
    assert entry.actor == cast.alice and entry.channel == "api"
    assert entry.changes_dict["licence"] == ["full_time", "occasional"]


def test_agents_saw_the_customers_of_agents_beyond_their_own(cast: Cast, actor: None) -> None:
    """Finding 9: ``GET /api/v1/agents/`` showed an agent the slugs of customers they are not a
    member of. An agent now sees, in others' ``customers``, only customers they see themselves;
    provider admins see all."""
    both = agent_create(
        fields=AgentFields(email="both@msp.test", name="Both", customers=(cast.acme, cast.globex)),
        password=None,
    )

    def customers_of(reader: User) -> dict[str, list[str]]:
        listed = api_for(reader).get("/api/v1/agents/", {"page_size": 200}).json()["results"]
        return {row["email"]: row["customers"] for row in listed}

    seen_by_bob = customers_of(cast.bob)
    assert seen_by_bob["both@msp.test"] == ["acme"] and seen_by_bob["charlie@msp.test"] == []
    assert seen_by_bob["bob@msp.test"] == ["acme"] and seen_by_bob["alice@msp.test"] == ["*"]
    assert "globex" not in str(seen_by_bob)
    detail = api_for(cast.bob).get(f"/api/v1/agents/{both.pk}/").json()
    assert detail["customers"] == ["acme"]
    assert customers_of(cast.charlie)["both@msp.test"] == ["globex"]
    assert customers_of(cast.alice)["both@msp.test"] == ["acme", "globex"]
    assert customers_of(cast.alice)["charlie@msp.test"] == ["globex"]
