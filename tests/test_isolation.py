"""Every endpoint answers 404 to outsiders, and the 404 says nothing about what exists."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cast, api_for
from tests.support.clients import console, portal

OUTSIDERS_OF_ACME = ["charlie", "globex_admin", "globex_user"]


def _assert_hidden(response, *secrets: str) -> None:
    assert response.status_code == 404, response.content
    assert response.json() == {"code": "not_found", "detail": "Not found."}
    for secret in secrets:
        assert secret not in response.content.decode()


@pytest.mark.parametrize("outsider", OUTSIDERS_OF_ACME)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/customers/acme/"),
        ("patch", "/api/v1/customers/acme/"),
        ("put", "/api/v1/customers/acme/"),
        ("delete", "/api/v1/customers/acme/"),
        ("get", "/api/v1/customers/acme/users/"),
        ("post", "/api/v1/customers/acme/users/"),
    ],
)
def test_outsiders_get_404_for_another_customer(cast: Cast, outsider: str, method: str, path: str) -> None:
    client = api_for(getattr(cast, outsider))
    response = getattr(client, method)(path, {"name": "x", "email": "x@x.test"}, format="json")
    _assert_hidden(response, "Acme", "acme.test")


@pytest.mark.parametrize("outsider", OUTSIDERS_OF_ACME)
@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_outsiders_get_404_for_a_user_whose_id_also_exists_in_their_own_customer(
    cast: Cast, outsider: str, method: str
) -> None:
    acme_profile = cast.profile(cast.acme_user)
    globex_profile_same_id_exists = cast.profile(cast.globex_admin).pk <= acme_profile.pk
    assert globex_profile_same_id_exists or cast.profile(cast.globex_user).pk == acme_profile.pk
    client = api_for(getattr(cast, outsider))
    response = getattr(client, method)(
        f"/api/v1/customers/acme/users/{acme_profile.pk}/", {"name": "Mallory"}, format="json"
    )
    _assert_hidden(response, "user@acme.test")
    assert api_for(cast.bob).get(f"/api/v1/customers/acme/users/{acme_profile.pk}/").json()["name"] == "user"


def test_overlapping_ids_resolve_inside_the_callers_customer(cast: Cast) -> None:
    acme_first = cast.profile(cast.acme_admin).pk
    globex_first = cast.profile(cast.globex_admin).pk
    assert acme_first == globex_first  # same id, different people
    seen_by_globex = api_for(cast.globex_admin).get(f"/api/v1/customers/globex/users/{globex_first}/").json()
    assert seen_by_globex["email"] == "admin@globex.test"


def test_unknown_customer_and_unknown_user_look_the_same_as_foreign_ones(cast: Cast) -> None:
    client = api_for(cast.charlie)
    _assert_hidden(client.get("/api/v1/customers/does-not-exist/users/"))
    _assert_hidden(api_for(cast.bob).get("/api/v1/customers/acme/users/999999/"))


def test_customer_lists_show_only_what_the_caller_may_see(cast: Cast) -> None:
    def slugs(user) -> set[str]:
        return {c["slug"] for c in api_for(user).get("/api/v1/customers/?page_size=200").json()["results"]}

    assert {"acme", "globex"} <= slugs(cast.alice)
    assert slugs(cast.bob) == {"acme"}
    assert slugs(cast.charlie) == {"globex"}
    assert slugs(cast.globex_user) == {"globex"}
    assert slugs(cast.acme_it) == {"acme"}


@pytest.mark.parametrize("customer_user", ["acme_user", "globex_admin", "acme_it"])
def test_customer_users_get_404_for_agents(cast: Cast, customer_user: str) -> None:
    client = api_for(getattr(cast, customer_user))
    _assert_hidden(client.get(f"/api/v1/agents/{cast.bob.pk}/"), "bob@msp.test")
    _assert_hidden(client.patch(f"/api/v1/agents/{cast.bob.pk}/", {"name": "x"}, format="json"))
    _assert_hidden(client.delete(f"/api/v1/agents/{cast.bob.pk}/"))
    _assert_hidden(client.get("/api/v1/agents/"))  # provider routes do not exist for them (one policy)


def test_a_user_with_role_user_sees_only_themselves(cast: Cast) -> None:
    client = api_for(cast.acme_user)
    listed = client.get("/api/v1/customers/acme/users/").json()["results"]
    assert [u["email"] for u in listed] == ["user@acme.test"]
    _assert_hidden(
        client.get(f"/api/v1/customers/acme/users/{cast.profile(cast.acme_user2).pk}/"), "user2@acme.test"
    )


def test_me_and_token_endpoints_only_ever_concern_the_caller(cast: Cast) -> None:
    me = api_for(cast.globex_user).get("/api/v1/me/").json()
    assert me["email"] == "user@globex.test" and me["customer"] == "globex"


# --- tickets -----------------------------------------------------------------------------------


@pytest.fixture
def acme_ticket(cast: Cast) -> dict[str, Any]:
    response = api_for(cast.acme_user).post(
        "/api/v1/customers/acme/tickets/",
        {"subject": "Acme confidential", "description": "acme-secret"},
        format="json",
    )
    assert response.status_code == 201
    ticket = response.json()
    api_for(cast.bob).post(
        f"/api/v1/customers/acme/tickets/{ticket['id']}/comments/",
        {"body": "acme-note", "public": False},
        format="json",
    )
    # Globex gets tickets with the same ids, so "exists in another customer" is really tested.
    while True:
        own = api_for(cast.globex_user).post(
            "/api/v1/customers/globex/tickets/", {"subject": "g"}, format="json"
        )
        if own.json()["id"] >= ticket["id"]:
            break
    return ticket  # type: ignore[no-any-return]


TICKET_ENDPOINTS = [
    ("get", "/api/v1/customers/acme/tickets/"),
    ("post", "/api/v1/customers/acme/tickets/"),
    ("get", "/api/v1/customers/acme/tickets/{id}/"),
    ("patch", "/api/v1/customers/acme/tickets/{id}/"),
    ("delete", "/api/v1/customers/acme/tickets/{id}/"),
    ("get", "/api/v1/customers/acme/tickets/{id}/comments/"),
    ("post", "/api/v1/customers/acme/tickets/{id}/comments/"),
    ("get", "/api/v1/customers/acme/tickets/{id}/history/"),
    ("get", "/api/v1/customers/acme/tickets/{id}/attachments/"),
    ("post", "/api/v1/customers/acme/tickets/{id}/attachments/"),
    ("get", "/api/v1/customers/acme/tickets/{id}/attachments/1/download/"),
]


@pytest.mark.parametrize("outsider", OUTSIDERS_OF_ACME)
@pytest.mark.parametrize(("method", "path"), TICKET_ENDPOINTS)
def test_outsiders_get_404_for_every_ticket_endpoint(
    cast: Cast, acme_ticket: dict[str, Any], outsider: str, method: str, path: str
) -> None:
    client = api_for(getattr(cast, outsider))
    response = getattr(client, method)(
        path.format(id=acme_ticket["id"]), {"subject": "x", "body": "x", "status": "resolved"}, format="json"
    )
    _assert_hidden(response, "Acme confidential", "acme-secret", "acme-note", "ACME-")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/acme/tickets/{id}/",
        "/api/v1/customers/acme/tickets/{id}/comments/",
        "/api/v1/customers/acme/tickets/{id}/history/",
    ],
)
def test_a_colleague_with_role_user_gets_404_for_someone_elses_ticket(
    cast: Cast, acme_ticket: dict[str, Any], path: str
) -> None:
    _assert_hidden(api_for(cast.acme_user2).get(path.format(id=acme_ticket["id"])), "Acme confidential")


def test_outsiders_never_see_acme_in_the_unified_queue_or_notifications(
    cast: Cast, acme_ticket: dict[str, Any]
) -> None:
    from notifications.models import Notification

    Notification.objects.create(
        user=cast.charlie,
        kind="ticket_assigned",
        customer=cast.acme,
        title="Acme confidential",
        event_key="x",
    )
    for path in ("/api/v1/tickets/?status=open,pending,resolved,closed", "/api/v1/tickets/?customer=acme"):
        body = api_for(cast.charlie).get(path).content.decode()
        assert "Acme confidential" not in body and "ACME-" not in body
    feed = api_for(cast.charlie).get("/api/v1/notifications/")
    assert "Acme confidential" not in feed.content.decode()
    note = Notification.objects.get(event_key="x")
    _assert_hidden(api_for(cast.charlie).get(f"/api/v1/notifications/{note.pk}/"))
    _assert_hidden(api_for(cast.charlie).post(f"/api/v1/notifications/{note.pk}/read/"))
    _assert_hidden(api_for(cast.bob).get(f"/api/v1/notifications/{note.pk}/"))  # someone else's


@pytest.mark.parametrize("outsider", ["charlie", "globex_admin", "globex_user", "acme_user2"])
def test_outsiders_get_404_for_console_and_portal_pages(
    cast: Cast, acme_ticket: dict[str, Any], outsider: str
) -> None:
    user = getattr(cast, outsider)
    client = console(user) if user.may_use_console else portal(user)  # (Charlie has proceeded)
    paths = (
        [f"/customers/acme/tickets/{acme_ticket['id']}/", "/customers/acme/"]
        if user.may_use_console
        else [f"/tickets/{acme_ticket['id']}/", f"/tickets/{acme_ticket['id']}/attachments/1/"]
    )
    for path in paths:
        response = client.get(path)
        if user.customer_id is not None and user.customer.slug == "globex" and path.startswith("/tickets/"):
            # At Globex this id is one of Globex's own tickets, owned by globex-user.
            assert "Acme confidential" not in response.content.decode()
            continue
        assert response.status_code == 404, (outsider, path)
        assert "Acme confidential" not in response.content.decode()


# --- CMDB --------------------------------------------------------------------------------------


@pytest.fixture
def acme_ci(cast: Cast, actor: None) -> dict[str, Any]:
    from cmdb.models import ConfigurationItem
    from tenants.schema import customer_schema

    bob = api_for(cast.bob)
    rack = bob.post(
        "/api/v1/customers/acme/cis/", {"name": "acme-rack", "type": "other"}, format="json"
    ).json()
    ci: dict[str, Any] = bob.post(
        "/api/v1/customers/acme/cis/",
        {"name": "acme-secret-db", "type": "server", "parent": rack["id"], "attributes": {"ip": "10.9.9.9"}},
        format="json",
    ).json()
    relation = bob.post(
        f"/api/v1/customers/acme/cis/{ci['id']}/relations/",
        {"kind": "runs_on", "target": "acme-rack"},
        format="json",
    ).json()
    # Globex has a CI with the same id, so "exists in another customer" is really tested.
    with customer_schema(cast.globex):
        ConfigurationItem.objects.filter(pk=ci["id"]).delete()
        ConfigurationItem.objects.create(pk=ci["id"], name="globex-own", type="server", owner=None)
    return {**ci, "relation": relation["id"]}


CI_ENDPOINTS = [
    ("get", "/api/v1/customers/acme/cis/"),
    ("post", "/api/v1/customers/acme/cis/"),
    ("get", "/api/v1/customers/acme/cis/counts/"),
    ("get", "/api/v1/customers/acme/cis/{id}/"),
    ("patch", "/api/v1/customers/acme/cis/{id}/"),
    ("put", "/api/v1/customers/acme/cis/{id}/"),
    ("delete", "/api/v1/customers/acme/cis/{id}/"),
    ("get", "/api/v1/customers/acme/cis/{id}/history/"),
    ("get", "/api/v1/customers/acme/cis/{id}/relations/"),
    ("post", "/api/v1/customers/acme/cis/{id}/relations/"),
    ("delete", "/api/v1/customers/acme/cis/{id}/relations/{relation}/"),
]


@pytest.mark.parametrize("outsider", OUTSIDERS_OF_ACME)
@pytest.mark.parametrize(("method", "path"), CI_ENDPOINTS)
def test_outsiders_get_404_for_every_ci_endpoint(
    cast: Cast, acme_ci: dict[str, Any], outsider: str, method: str, path: str
) -> None:
    client = api_for(getattr(cast, outsider))
    response = getattr(client, method)(
        path.format(id=acme_ci["id"], relation=acme_ci["relation"]),
        {"name": "x", "type": "server", "kind": "runs_on", "target": "acme-rack"},
        format="json",
    )
    _assert_hidden(response, "acme-secret-db", "acme-rack", "10.9.9.9")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/acme/cis/{id}/",
        "/api/v1/customers/acme/cis/{id}/history/",
        "/api/v1/customers/acme/cis/{id}/relations/",
    ],
)
def test_a_user_who_does_not_own_a_ci_gets_404(cast: Cast, acme_ci: dict[str, Any], path: str) -> None:
    _assert_hidden(api_for(cast.acme_user).get(path.format(id=acme_ci["id"])), "acme-secret-db")


@pytest.mark.parametrize("outsider", ["charlie", "globex_admin", "globex_user", "acme_user"])
def test_outsiders_get_404_for_cmdb_console_and_portal_pages(
    cast: Cast, acme_ci: dict[str, Any], outsider: str
) -> None:
    user = getattr(cast, outsider)
    client = console(user) if user.may_use_console else portal(user)  # (Charlie has proceeded)
    ci_id = acme_ci["id"]
    if user.may_use_console:
        paths = [
            "/customers/acme/cis/",
            "/customers/acme/cis/new/",
            f"/customers/acme/cis/{ci_id}/",
            f"/customers/acme/cis/{ci_id}/edit/",
        ]
        posts = [f"/customers/acme/cis/{ci_id}/relations/", f"/customers/acme/cis/{ci_id}/delete/"]
    else:
        paths, posts = [f"/cis/{ci_id}/"], []
    for path in paths:
        response = client.get(path)
        if user.customer_id is not None and user.customer.slug == "globex":
            # At Globex this id is one of Globex's own CIs, which its admin may see.
            assert "acme-secret-db" not in response.content.decode()
            continue
        assert response.status_code == 404, (outsider, path)
        assert "acme-secret-db" not in response.content.decode()
    for path in posts:
        response = client.post(path, {"name": "x", "kind": "runs_on", "target": "acme-rack"})
        assert response.status_code == 404, (outsider, path)
