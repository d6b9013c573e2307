"""A customer's users in the console (provider staff, the customer's own agents) and in the
portal (the customer's admins): invite or set a password, role user/admin, time zone,
deactivate and reactivate; the requester's SLA override for provider staff only, with its
badge; issue 12's rules (no agent access, no SLA override, no agent-level account from the
customer's side)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from people.models import CustomerUser
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.schema import customer_schema
from tests.conftest import PASSWORD, Cast
from tests.support.clients import console, portal
from tickets import workflows


def _user_post(**kw: str) -> dict[str, str]:
    return {
        "email": "cfo@acme.test",
        "name": "Dana Ruiz",
        "timezone": "Europe/Berlin",
        "role": "user",
        "password": "",
    } | kw


def _profile(cast: Cast, email: str) -> CustomerUser:
    with customer_schema(cast.acme):
        return CustomerUser.objects.select_related("user", "sla_policy").get(user__email=email)


@pytest.fixture
def executive(db: None, actor: None) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(name="Executive 2h", targets=STANDARD_TARGETS)
    return policy


def test_provider_admin_adds_a_user_with_a_password_and_an_sla_override(
    cast: Cast, executive: SlaPolicy
) -> None:
    client = console(cast.alice)
    form = client.get("/customers/acme/users/new/").content.decode()
    assert 'name="sla_policy"' in form and 'value="agent"' not in form
    response = client.post(
        "/customers/acme/users/new/", _user_post(password=PASSWORD, sla_policy=str(executive.pk))
    )
    assert response.status_code == 302
    profile = _profile(cast, "cfo@acme.test")
    assert profile.sla_policy == executive and profile.user.check_password(PASSWORD)
    assert profile.user.timezone == "Europe/Berlin" and profile.user.customer_role == "user"
    users = client.get("/customers/acme/users/").content.decode()
    row = users[users.index('data-user="cfo@acme.test"') :]
    assert "data-sla-override" in row[: row.index("</tr>")]
    assert "data-sla-override" in client.get("/customers/acme/").content.decode()


def test_the_override_badge_shows_on_the_requesters_tickets(
    cast: Cast, executive: SlaPolicy, actor: None
) -> None:
    profile = cast.profile(cast.acme_user)
    with customer_schema(cast.acme):
        CustomerUser.objects.filter(pk=profile.pk).update(sla_policy=executive)
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="Mail", description="down")
        )
    html = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert "data-sla-override" in html and "Executive 2h" in html
    assert ticket.sla_source == "requester"
    queue = console(cast.bob).get("/").content.decode()  # the queue's requester column, from the index
    row = queue[queue.index(f'href="/customers/acme/tickets/{ticket.pk}/"') :]
    assert "data-sla-override" in row[: row.index("</tr>")]


def test_member_agent_invites_and_the_invitation_is_sent_after_commit(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = console(cast.bob).post("/customers/acme/users/new/", _user_post())
    assert response.status_code == 302
    profile = _profile(cast, "cfo@acme.test")
    assert not profile.user.has_usable_password()
    assert callbacks, "no invitation was scheduled"


def test_role_timezone_deactivate_and_reactivate_in_the_console(cast: Cast) -> None:
    client = console(cast.bob)
    profile = cast.profile(cast.acme_user)
    url = f"/customers/acme/users/{profile.pk}/"
    response = client.post(
        url, _user_post(email="user@acme.test", name="Ursula", role="admin", timezone="Asia/Tokyo")
    )
    assert response.status_code == 302
    cast.acme_user.refresh_from_db()
    assert cast.acme_user.customer_role == "admin" and cast.acme_user.timezone == "Asia/Tokyo"
    assert client.post(f"{url}state/").status_code == 302
    cast.acme_user.refresh_from_db()
    assert not cast.acme_user.is_active
    client.post(f"{url}state/", {"active": "on"})
    cast.acme_user.refresh_from_db()
    assert cast.acme_user.is_active


def test_the_console_never_grants_agent_access(cast: Cast) -> None:
    response = console(cast.alice).post("/customers/acme/users/new/", _user_post(role="agent"))
    assert response.status_code == 400 and not User.objects.filter(email="cfo@acme.test").exists()


def test_the_customers_own_agent_manages_users_but_sets_no_override(cast: Cast, executive: SlaPolicy) -> None:
    client = console(cast.acme_it)
    assert 'name="sla_policy"' not in client.get("/customers/acme/users/new/").content.decode()
    client.post("/customers/acme/users/new/", _user_post(sla_policy=str(executive.pk)))
    assert _profile(cast, "cfo@acme.test").sla_policy is None


def test_outsiders_get_404(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user)
    for path in (
        "/customers/acme/users/",
        f"/customers/acme/users/{profile.pk}/",
        "/customers/acme/users/new/",
    ):
        assert console(cast.charlie).get(path).status_code == 404
    assert console(cast.bob).get("/customers/globex/users/").status_code == 404


# --- the portal ---------------------------------------------------------------------------------


def test_customer_admin_invites_a_colleague_and_changes_roles(cast: Cast) -> None:
    client = portal(cast.acme_admin)
    form = client.get("/users/new/").content.decode()
    assert 'name="sla_policy"' not in form and 'name="password"' not in form and 'value="agent"' not in form
    assert client.post("/users/new/", _user_post(role="admin")).status_code == 302
    profile = _profile(cast, "cfo@acme.test")
    assert profile.user.customer_role == "admin" and not profile.user.has_usable_password()
    assert client.post(f"/users/{profile.pk}/", _user_post(role="user")).status_code == 302
    profile.user.refresh_from_db()
    assert profile.user.customer_role == "user"
    assert client.post(f"/users/{profile.pk}/state/").status_code == 302
    profile.user.refresh_from_db()
    assert not profile.user.is_active
    assert "Users" in client.get("/").content.decode()


def test_customer_admin_cannot_give_agent_access_or_an_override(cast: Cast, executive: SlaPolicy) -> None:
    client = portal(cast.acme_admin)
    assert client.post("/users/new/", _user_post(role="agent")).status_code == 400
    profile = cast.profile(cast.acme_user)
    client.post(f"/users/{profile.pk}/", _user_post(email="user@acme.test", sla_policy=str(executive.pk)))
    assert _profile(cast, "user@acme.test").sla_policy is None


def test_customer_admin_cannot_touch_an_agent_level_account(cast: Cast) -> None:
    client = portal(cast.acme_admin)
    agent = cast.profile(cast.acme_it)
    page = client.get(f"/users/{agent.pk}/").content.decode()
    assert 'name="role"' not in page and 'name="password"' not in page
    response = client.post(f"/users/{agent.pk}/", _user_post(email="it@acme.test", name="Renamed"))
    assert response.status_code == 403 and "Only your service provider" in response.content.decode()
    client.post(f"/users/{agent.pk}/state/")
    cast.acme_it.refresh_from_db()
    assert cast.acme_it.is_active and cast.acme_it.name != "Renamed"


def test_plain_users_and_other_customers_are_refused(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user2)
    for path in ("/users/", "/users/new/", f"/users/{profile.pk}/"):
        assert portal(cast.acme_user).get(path).status_code == 403
    assert portal(cast.acme_user).post(f"/users/{profile.pk}/state/").status_code == 403
    cast.acme_user2.refresh_from_db()
    assert cast.acme_user2.is_active
    assert portal(cast.globex_admin, "acme").get("/users/").status_code == 302  # not a session here


def test_nobody_deactivates_themselves(cast: Cast) -> None:
    me = cast.profile(cast.acme_admin)
    portal(cast.acme_admin).post(f"/users/{me.pk}/state/")
    cast.acme_admin.refresh_from_db()
    assert cast.acme_admin.is_active


def test_staff_set_a_password_and_a_customer_user_has_no_console(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user2)
    url = f"/customers/acme/users/{profile.pk}/"
    new_password = "velvet-orbit-quartz-lantern"
    response = console(cast.alice).post(
        url, _user_post(email="user2@acme.test", name="user2", password=new_password)
    )
    assert response.status_code == 302
    cast.acme_user2.refresh_from_db()
    assert cast.acme_user2.check_password(new_password)
    refused = console(cast.acme_admin).get("/customers/acme/users/")
    assert refused.status_code in (302, 404) and b"user2@acme.test" not in refused.content
