from __future__ import annotations

from django.core import mail

from accounts.models import User
from people.models import CustomerUser
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for


def test_member_agent_creates_a_user_inside_the_customer(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_for(cast.bob).post(
            "/api/v1/customers/acme/users/",
            {"email": "New@Acme.test", "name": "Newbie", "role": "user", "timezone": "Europe/Berlin"},
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new@acme.test" and body["role"] == "user" and "password" not in body
    user = User.objects.get(email="new@acme.test")
    assert user.customer == cast.acme and not user.has_usable_password()
    with customer_schema(cast.acme):
        assert CustomerUser.objects.get(pk=body["id"]).user == user
    with customer_schema(cast.globex):
        assert not CustomerUser.objects.filter(user=user).exists()
    assert len(callbacks) == 1  # the invitation is queued after commit, never inside it


def test_customer_admin_manages_users_but_role_user_cannot(cast: Cast) -> None:
    ok = api_for(cast.acme_admin).post(
        "/api/v1/customers/acme/users/",
        {"email": "x1@acme.test", "name": "X", "password": "a-long-pass-123"},
        format="json",
    )
    assert ok.status_code == 201
    refused = api_for(cast.acme_user).post(
        "/api/v1/customers/acme/users/", {"email": "x2@acme.test", "name": "X"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_bad_input_is_400_naming_the_field_and_writes_nothing(cast: Cast) -> None:
    client = api_for(cast.bob)
    before = User.objects.count()
    cases = [
        ({"email": "not-an-email", "name": "X"}, "email"),
        ({"email": "user@acme.test", "name": "Dup"}, "email"),
        ({"email": "ok@acme.test", "name": "X", "role": "boss"}, "role"),
        ({"email": "ok@acme.test", "name": "X", "timezone": "Mars/Base"}, "timezone"),
        ({"email": "ok@acme.test", "name": "X", "password": "123"}, "password"),
    ]
    for payload, field in cases:
        response = client.post("/api/v1/customers/acme/users/", payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in response.json()["fields"], response.json()
    assert User.objects.count() == before


def test_delete_deactivates(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user2)
    response = api_for(cast.acme_admin).delete(f"/api/v1/customers/acme/users/{profile.pk}/")
    assert response.status_code == 204
    cast.acme_user2.refresh_from_db()
    assert cast.acme_user2.is_active is False


def test_no_email_is_sent_inside_the_request(cast: Cast) -> None:
    api_for(cast.bob).post(
        "/api/v1/customers/acme/users/", {"email": "q@acme.test", "name": "Q"}, format="json"
    )
    assert mail.outbox == []
