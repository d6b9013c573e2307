from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from people.models import CustomerUser
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.access import POLICY_REFUSAL
from tenants.schema import customer_schema
from tests.conftest import CONSOLE_HOST, PASSWORD, Cast, api_for


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


# --- issue 12: roles that cannot be climbed ------------------------------------------------------

USERS = "/api/v1/customers/acme/users/"
TICKETS = "/api/v1/customers/acme/tickets/"
NEW_PASSWORD = "taken-over-hijack-9q"


def _user_url(cast: Cast, user: User) -> str:
    return f"{USERS}{cast.profile(user).pk}/"


def test_a_customer_admin_made_themselves_an_agent_and_read_private_notes(
    cast: Cast, settings: Any, tmp_path: Any
) -> None:
    """Finding 1: ``PATCH users/{own id}/ {"role": "agent"}`` was accepted, and with it private
    notes, private attachments and the console."""
    settings.MEDIA_ROOT = tmp_path
    ticket = api_for(cast.acme_admin).post(TICKETS, {"subject": "Laptop"}, format="json").json()
    note = api_for(cast.bob).post(
        f"{TICKETS}{ticket['id']}/comments/",
        {
            "body": "internal: licence key",
            "public": "false",
            "attachments": [SimpleUploadedFile("k.txt", b"KEY")],
        },
        format="multipart",
    )
    assert note.status_code == 201
    private_file = note.json()["attachments"][0]["url"]

    admin = api_for(cast.acme_admin)
    response = admin.patch(_user_url(cast, cast.acme_admin), {"role": "agent"}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied" and "role" in response.json()["detail"]
    cast.acme_admin.refresh_from_db()
    assert cast.acme_admin.customer_role == "admin" and not cast.acme_admin.may_use_console

    comments = admin.get(f"{TICKETS}{ticket['id']}/comments/")
    assert comments.status_code == 200 and "licence key" not in comments.content.decode()
    assert admin.get(private_file).status_code == 404
    console = Client(HTTP_HOST=CONSOLE_HOST)
    refused = console.post("/login/", {"email": "admin@acme.test", "password": PASSWORD})
    assert refused.status_code == 400 and "The email or password is not correct." in refused.content.decode()
    console.force_login(cast.acme_admin)  # a session made elsewhere is not honoured on the console
    assert console.get("/").status_code == 302


def test_nobody_on_the_customers_side_grants_the_agent_role(cast: Cast) -> None:
    """Finding 1, the other ways: creating a user with role agent, and the customer's own agent
    promoting someone."""
    before = User.objects.count()
    for who in (cast.acme_admin, cast.acme_it):
        created = api_for(who).post(
            USERS,
            {"email": "mole@acme.test", "name": "Mole", "role": "agent", "password": NEW_PASSWORD},
            format="json",
        )
        assert created.status_code == 403 and "role" in created.json()["detail"], created.content
        promoted = api_for(who).patch(_user_url(cast, cast.acme_user), {"role": "agent"}, format="json")
        assert promoted.status_code == 403 and "role" in promoted.json()["detail"], promoted.content
    assert User.objects.count() == before
    cast.acme_user.refresh_from_db()
    assert cast.acme_user.customer_role == "user"
    # The provider does grant it.
    granted = api_for(cast.bob).patch(_user_url(cast, cast.acme_user), {"role": "agent"}, format="json")
    assert granted.status_code == 200 and granted.json()["role"] == "agent"


def test_a_customer_admin_took_over_a_customer_agents_account(cast: Cast) -> None:
    """Finding 2: a customer admin set the password of the customer's agent and signed in as
    them; changing the agent's email (then "forgot password") or deactivating them is the same
    kind of takeover."""
    admin = api_for(cast.acme_admin)
    url = _user_url(cast, cast.acme_it)
    response = admin.patch(url, {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 403, response.content
    cast.acme_it.refresh_from_db()
    assert cast.acme_it.check_password(PASSWORD) and not cast.acme_it.check_password(NEW_PASSWORD)
    sign_in = APIClient(HTTP_HOST=CONSOLE_HOST).post(
        "/api/v1/auth/token/", {"email": "it@acme.test", "password": NEW_PASSWORD}, format="json"
    )
    assert sign_in.status_code == 401
    for change in ({"email": "attacker@evil.test"}, {"is_active": False}, {"role": "user"}, {"name": "Mine"}):
        refused = admin.patch(url, change, format="json")
        assert refused.status_code == 403, (change, refused.content)
    assert admin.delete(url).status_code == 403
    cast.acme_it.refresh_from_db()
    assert (cast.acme_it.email, cast.acme_it.is_active, cast.acme_it.customer_role, cast.acme_it.name) == (
        "it@acme.test",
        True,
        "agent",
        "it",
    )
    # The provider manages the agent's account.
    assert api_for(cast.bob).patch(url, {"name": "IT desk"}, format="json").status_code == 200


def test_customer_admins_set_any_sla_policy_as_an_override_and_learned_which_exist(
    cast: Cast, actor: None
) -> None:
    """Finding 3 (users): a customer admin may not give a user an SLA override, and the answer
    is the same 403 whether the policy id exists or not."""
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS)
    missing = SlaPolicy.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000  # type: ignore[operator]
    admin = api_for(cast.acme_admin)
    url = _user_url(cast, cast.acme_user)
    answers = []
    for policy_id in (gold.pk, missing):
        patched = admin.patch(url, {"sla_policy": policy_id}, format="json")
        created = admin.post(
            USERS, {"email": f"p{policy_id}@acme.test", "name": "P", "sla_policy": policy_id}, format="json"
        )
        answers += [(patched.status_code, patched.json()), (created.status_code, created.json())]
    assert {status for status, _ in answers} == {403}
    assert all(body == answers[0][1] for _, body in answers), answers
    assert answers[0][1] == {"code": "permission_denied", "detail": POLICY_REFUSAL}
    assert cast.profile(cast.acme_user).sla_policy_id is None
    assert not User.objects.filter(email__startswith="p", email__endswith="@acme.test").exists()
    # Provider staff set one; an unknown id is then a 400 naming the field.
    assert api_for(cast.bob).patch(url, {"sla_policy": gold.pk}, format="json").status_code == 200
    unknown = api_for(cast.bob).patch(url, {"sla_policy": missing}, format="json")
    assert unknown.status_code == 400 and "sla_policy" in unknown.json()["fields"]
