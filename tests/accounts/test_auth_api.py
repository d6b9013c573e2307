from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.activation import activation_link
from accounts.models import ApiToken
from accounts.services import person_deactivate
from tests.conftest import PASSWORD, Cast, api_for


def _sign_in(email: str, password: str = PASSWORD) -> Any:
    return APIClient(HTTP_HOST="localhost").post(
        "/api/v1/auth/token/", {"email": email, "password": password}, format="json"
    )


def test_token_exchange_returns_token_and_user(cast: Cast) -> None:
    response = _sign_in("Alice@MSP.test")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": cast.alice.pk,
        "email": "alice@msp.test",
        "name": "alice",
        "kind": "provider_admin",
        "licence": "full_time",
        "timezone": "UTC",
        "customer": None,
        "customer_role": None,
    }
    stored = ApiToken.objects.get(user=cast.alice, digest=hashlib.sha256(body["token"].encode()).hexdigest())
    assert body["token"] not in (stored.digest, stored.prefix)  # only the digest is stored
    me = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {body['token']}").get("/api/v1/me/")
    assert me.json()["email"] == "alice@msp.test"


def test_wrong_password_is_401_invalid_credentials(cast: Cast) -> None:
    response = _sign_in("alice@msp.test", "nope")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_missing_fields_are_400_naming_them(cast: Cast) -> None:
    response = APIClient(HTTP_HOST="localhost").post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "password"}


def test_repeated_failures_are_throttled_with_429_even_with_the_right_password(cast: Cast, settings) -> None:
    """Until the wait is over (tests/accounts/test_login_throttle.py: the backoff); time stands
    still here so that the one-second first wait cannot run out before the last attempt."""
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            assert _sign_in("bob@msp.test", "wrong").status_code == 401
        response = _sign_in("bob@msp.test")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_delete_revokes_the_calling_token(cast: Cast) -> None:
    client = api_for(cast.bob)
    assert client.delete("/api/v1/auth/token/").status_code == 204
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_unauthenticated_requests_are_401(cast: Cast) -> None:
    response = APIClient(HTTP_HOST="localhost").get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_bearer_header_is_401(cast: Cast) -> None:
    response = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Bearer a b").get("/api/v1/me/")
    assert response.status_code == 401


def test_deactivation_ends_sessions_and_tokens_at_once(cast: Cast, actor: None) -> None:
    client = api_for(cast.bob)
    browser = Client(HTTP_HOST="localhost")
    assert browser.post("/login/", {"email": "bob@msp.test", "password": PASSWORD}).status_code == 302
    assert browser.get("/").status_code == 200
    person_deactivate(user=cast.bob)
    assert client.get("/api/v1/me/").status_code == 401
    assert browser.get("/").status_code == 302  # back to the sign-in page
    assert not ApiToken.objects.live().filter(user=cast.bob).exists()


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/customers/"])
def test_session_auth_works_for_the_api(cast: Cast, path: str) -> None:
    browser = Client(HTTP_HOST="localhost")
    browser.post("/login/", {"email": "alice@msp.test", "password": PASSWORD})
    assert browser.get(path).status_code == 200


def test_session_writes_need_csrf(cast: Cast) -> None:
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    browser.force_login(cast.alice)
    response = browser.post(
        "/api/v1/customers/", {"name": "X", "slug": "xcorp"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


# --- issue 12: a new password ends what the old one made -----------------------------------------

RESET_PASSWORD = "fresh-start-octopus-42"


def _reset_by_link(user: Any) -> None:
    """The activation link (also how a password is reset): on the host the person signs in on."""
    parts = urlsplit(activation_link(user))
    page = Client(HTTP_HOST=parts.netloc.split(":")[0])
    response = page.post(parts.path, {"password1": RESET_PASSWORD, "password2": RESET_PASSWORD})
    assert response.status_code == 302, response.content


def _user_path(cast: Cast, user: Any) -> str:
    return f"/api/v1/customers/acme/users/{cast.profile(user).pk}/"


RESETS: dict[str, tuple[str, Callable[[Cast], Any]]] = {
    "agent, activation link": ("bob", lambda cast: _reset_by_link(cast.bob)),
    "customer user, activation link": ("acme_user", lambda cast: _reset_by_link(cast.acme_user)),
    "agent, set by a provider admin": (
        "bob",
        lambda cast: api_for(cast.alice).patch(
            f"/api/v1/agents/{cast.bob.pk}/", {"password": RESET_PASSWORD}, format="json"
        ),
    ),
    "customer user, set by the customer admin": (
        "acme_user",
        lambda cast: api_for(cast.acme_admin).patch(
            _user_path(cast, cast.acme_user), {"password": RESET_PASSWORD}, format="json"
        ),
    ),
    "customer agent, set by a member agent": (
        "acme_it",
        lambda cast: api_for(cast.bob).patch(
            _user_path(cast, cast.acme_it), {"password": RESET_PASSWORD}, format="json"
        ),
    ),
}


@pytest.mark.parametrize("case", RESETS)
def test_a_password_reset_left_the_persons_api_tokens_valid(cast: Cast, actor: None, case: str) -> None:
    """Finding 4: whoever knew the old password may have made a token; a new password (reset
    through the link, or set by an admin) revokes every token of the person at once."""
    who, reset = RESETS[case]
    person = getattr(cast, who)
    client = api_for(person)
    assert client.get("/api/v1/me/").status_code == 200
    reset(cast)
    person.refresh_from_db()
    assert person.check_password(RESET_PASSWORD)
    assert client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.live().filter(user=person).exists()
    assert _sign_in(person.email, RESET_PASSWORD).status_code == 200  # the new password works
