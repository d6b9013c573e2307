"""Sign-ins in the audit trail (issue 17): a sign-in, a failed one and a sign-out, on the web
and by the API, are entries (action ``access``) on the person's account in the provider's chain,
with channel and address; a failure is the job ``accounts.sign_in``'s, naming the email tried."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEntry
from tests.conftest import PASSWORD, Cast, api_for


def events(**where: Any) -> list[tuple[str, str, str | None, str]]:
    """(event, channel, the person's email or None, job) of the sign-in entries, oldest first."""
    rows = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS, **where).order_by("id")
    return [(row.additional_data["event"], row.channel, row.actor_email, row.job) for row in rows]


def test_web_sign_in_failure_and_sign_out_are_audited(cast: Cast) -> None:
    browser = Client(HTTP_HOST="localhost")
    assert browser.post("/login/", {"email": "bob@msp.test", "password": "wrong"}).status_code == 400
    assert browser.post("/login/", {"email": "bob@msp.test", "password": PASSWORD}).status_code == 302
    assert browser.post("/logout/").status_code == 302
    assert events(object_pk=str(cast.bob.pk)) == [
        ("sign-in failed", "web", None, "accounts.sign_in"),
        ("signed in", "web", "bob@msp.test", ""),
        ("signed out", "web", "bob@msp.test", ""),
    ]
    failed = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS, job="accounts.sign_in").latest("id")
    assert failed.additional_data == {
        "event": "sign-in failed",
        "email": "bob@msp.test",
        "reason": "wrong email or password",
    }
    assert failed.remote_addr == "127.0.0.1"
    nobody = Client(HTTP_HOST="localhost")
    assert nobody.post("/login/", {"email": "ghost@nowhere.test", "password": "x"}).status_code == 400
    ghost = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS).latest("id")
    assert (ghost.object_pk, ghost.object_repr, ghost.additional_data["email"]) == (
        "",
        "ghost@nowhere.test",
        "ghost@nowhere.test",
    )


def test_a_sign_in_on_another_customers_portal_is_a_failure_naming_the_host(cast: Cast) -> None:
    portal = Client(HTTP_HOST="globex.localhost")
    assert portal.post("/login/", {"email": "user@acme.test", "password": PASSWORD}).status_code == 400
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS).latest("id")
    assert entry.object_pk == str(cast.acme_user.pk) and entry.job == "accounts.sign_in"
    assert entry.additional_data["reason"] == "not a person of this host (globex.localhost)"


def test_api_sign_in_and_its_failure_are_audited(cast: Cast) -> None:
    api = APIClient(HTTP_HOST="localhost")
    wrong = api.post("/api/v1/auth/token/", {"email": "alice@msp.test", "password": "nope"}, format="json")
    assert wrong.status_code == 401
    right = api.post("/api/v1/auth/token/", {"email": "alice@msp.test", "password": PASSWORD}, format="json")
    assert right.status_code == 200
    assert events(object_pk=str(cast.alice.pk)) == [
        ("sign-in failed", "api", None, "accounts.sign_in"),
        ("signed in", "api", "alice@msp.test", ""),
    ]


def test_an_occasional_agents_token_use_is_audited_once_per_touch(cast: Cast) -> None:
    charlie, alice = api_for(cast.charlie), api_for(cast.alice)
    for client in (charlie, charlie, alice):
        assert client.get("/api/v1/me/").status_code == 200
    assert events(object_pk=str(cast.charlie.pk)) == [("token used", "api", "charlie@msp.test", "")]
    entry = AuditEntry.objects.filter(object_pk=str(cast.charlie.pk), action=AuditEntry.Action.ACCESS).get()
    assert entry.additional_data["token"].startswith("test (id ")
    assert events(object_pk=str(cast.alice.pk)) == []  # a full-time agent's token use is not an entry


def test_a_password_set_is_on_record_without_the_password(cast: Cast) -> None:
    from accounts.services import password_set
    from audit.context import person_context

    with person_context(cast.alice, channel="web"):
        password_set(user=cast.bob, password="a-new-long-passphrase-7")
    entry = AuditEntry.objects.filter(object_pk=str(cast.bob.pk), additional_data__event="password set").get()
    assert entry.actor == cast.alice and entry.channel == "web"
    assert entry.changes_dict == {"password": ["(hidden)", "(changed)"]}
    assert "passphrase" not in str(entry.changes) and cast.bob.password not in str(entry.changes)
