"""Failed sign-ins back off per (email, address), never lock an email for everyone (accounts.login).

Time is frozen (time_machine, not ticking) so that a wait neither runs out while a test looks at
it nor needs the test to sleep; shifting the clock stands for waiting the wait out. Passwords are
hashed with a fast hasher here: these tests check dozens of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import PASSWORD, Cast

BOB = "bob@msp.test"


@pytest.fixture(autouse=True)
def fast_hashing(cast: Cast, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.filter(pk__in=[cast.bob.pk, cast.acme_user.pk]).update(password=make_password(PASSWORD))


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def _sign_in(address: str, email: str = BOB, password: str = PASSWORD) -> Any:
    client = APIClient(HTTP_HOST="localhost", REMOTE_ADDR=address)
    return client.post("/api/v1/auth/token/", {"email": email, "password": password}, format="json")


def _fail(times: int, address: str, email: str = BOB) -> None:
    for _ in range(times):
        assert _sign_in(address, email, "wrong").status_code == 401


def _throttled_for(response: Any) -> int:
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    return int(response["Retry-After"])


def test_another_address_still_signs_in_to_the_throttled_email(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    _fail(settings.LOGIN_FAILURE_LIMIT, "203.0.113.5")
    assert _throttled_for(_sign_in("203.0.113.5")) == 1
    assert _sign_in("198.51.100.7").status_code == 200


def test_each_further_failure_doubles_the_wait_up_to_the_window(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    settings.LOGIN_FAILURE_WINDOW = 5
    _fail(settings.LOGIN_FAILURE_LIMIT, "203.0.113.5")
    waits = []
    for _ in range(4):
        wait = _throttled_for(_sign_in("203.0.113.5", password="wrong"))
        waits.append(wait)
        clock.shift(wait)  # waited it out: the next attempt is tried, and fails
        _fail(1, "203.0.113.5")
    assert waits == [1, 2, 4, 5]
    clock.shift(5)
    assert _sign_in("203.0.113.5").status_code == 200  # the right password, once the wait is over


def test_a_success_clears_the_pair(cast: Cast, settings: Any, clock: time_machine.Traveller) -> None:
    _fail(settings.LOGIN_FAILURE_LIMIT, "203.0.113.5")
    clock.shift(1)
    assert _sign_in("203.0.113.5").status_code == 200
    _fail(settings.LOGIN_FAILURE_LIMIT - 1, "203.0.113.5")  # as many mistakes again as at first
    assert _sign_in("203.0.113.5").status_code == 200


def test_one_address_trying_many_emails_backs_off(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    settings.LOGIN_FAILURE_LIMIT = 1  # the address's threshold is 4
    for n in range(4):
        _fail(1, "203.0.113.5", f"nobody{n}@msp.test")
    assert _throttled_for(_sign_in("203.0.113.5")) == 1
    assert _sign_in("198.51.100.7").status_code == 200


def test_a_spray_from_many_addresses_backs_off_except_where_the_person_signed_in_before(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    settings.LOGIN_FAILURE_LIMIT = 1  # the email's threshold is 20
    assert _sign_in("198.51.100.7").status_code == 200  # Bob's usual address
    for n in range(20):
        _fail(1, f"203.0.113.{n}")
    assert _throttled_for(_sign_in("192.0.2.1")) == 1  # a fresh address, even with the password
    assert _sign_in("198.51.100.7").status_code == 200


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"], ids=["console", "portal"])
def test_sign_in_pages_answer_429_with_the_wait(
    cast: Cast, settings: Any, clock: time_machine.Traveller, host: str
) -> None:
    email = BOB if host == "localhost" else cast.acme_user.email
    browser = Client(HTTP_HOST=host, REMOTE_ADDR="203.0.113.5")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert browser.post("/login/", {"email": email, "password": "wrong"}).status_code == 400
    page = browser.post("/login/", {"email": email, "password": PASSWORD})
    assert page.status_code == 429 and page["Retry-After"] == "1"
    assert "Too many failed sign-in attempts. Try again in 1 second." in page.content.decode()


PROXY = "10.0.0.2"


def _sign_in_via_proxy(forwarded_for: str, password: str = PASSWORD) -> Any:
    client = APIClient(HTTP_HOST="localhost", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post("/api/v1/auth/token/", {"email": BOB, "password": password}, format="json")


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(settings.LOGIN_FAILURE_LIMIT):
        # What the client put in the header is left of what the proxy appended: it changes nothing.
        assert _sign_in_via_proxy(f"192.0.2.{n}, 203.0.113.5", "wrong").status_code == 401
    assert _throttled_for(_sign_in_via_proxy("203.0.113.5")) == 1
    assert _sign_in_via_proxy("198.51.100.7").status_code == 200


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(
    cast: Cast, settings: Any, clock: time_machine.Traveller
) -> None:
    _fail(settings.LOGIN_FAILURE_LIMIT, PROXY)
    assert _throttled_for(_sign_in_via_proxy("198.51.100.7")) == 1
