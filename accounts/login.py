"""Signing in with email and password, with throttling of repeated failures.

Shared by the API token endpoint, the console and the portal. Failures are counted per email
and per client address in Redis (a cache without the schema in its keys, so trying the same
email on several portal hosts does not multiply the attempts).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import caches
from django.http import HttpRequest

from accounts import signins
from accounts.models import User


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-in attempts. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class InvalidCredentials(Exception):
    pass


def _keys(email: str, remote_addr: str | None) -> list[str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    keys = [f"login-fail:email:{digest}"]
    if remote_addr:
        keys.append(f"login-fail:ip:{remote_addr}")
    return keys


def _limits() -> tuple[int, int]:
    return settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_WINDOW


def _check_not_throttled(keys: list[str]) -> None:
    cache = caches["throttle"]
    limit, window = _limits()
    counts = cache.get_many(keys)
    # The address limit is wider: several people may share an office's address.
    for key, count in counts.items():
        allowed = limit * 4 if ":ip:" in key else limit
        if count >= allowed:
            raise LoginThrottled(retry_after=window)


def _record_failure(keys: list[str]) -> None:
    cache = caches["throttle"]
    _, window = _limits()
    for key in keys:
        if cache.add(key, 1, timeout=window):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=window)


def sign_in(
    request: HttpRequest | None, *, email: str, password: str, remote_addr: str | None, channel: str
) -> User:
    """The person with these credentials, or InvalidCredentials / LoginThrottled. A failure
    (not a throttled attempt) is in the audit trail (``accounts.signins``)."""
    keys = _keys(email, remote_addr)
    _check_not_throttled(keys)
    user = authenticate(request, username=email.strip(), password=password)
    if user is None:
        _record_failure(keys)
        signins.record(
            signins.FAILED,
            user=None,
            channel=channel,
            remote_addr=remote_addr,
            email=email.strip(),
            reason="wrong email or password",
        )
        raise InvalidCredentials
    caches["throttle"].delete(keys[0])
    return user
