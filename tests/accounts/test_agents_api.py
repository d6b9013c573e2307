from __future__ import annotations

from accounts.models import AgentMembership, User
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
