"""Signing in with email and password, with backoff on repeated failures.

Shared by the API token endpoint, the console and the portal. Failures are counted in Redis (a
cache without the schema in its keys, so trying the same email on several portal hosts does not
multiply the attempts) at three scopes, each with its own threshold:

- one email from one address (``LOGIN_FAILURE_LIMIT``): guessing one person's password;
- one address, any email (4x): one machine trying many people;
- one email, any address (20x): a spray from many machines at one person. Addresses that signed in
  to that email before are exempt, so a spray never locks its owner out of their usual places.

Past a scope's threshold each further failure doubles the wait before the next attempt (1 s, 2 s,
4 s, ... at most ``LOGIN_FAILURE_WINDOW``): a mistyped password costs seconds, a guessing run soon
one attempt per window. Nothing is locked for good: the counts are forgotten a window after the
last wait ends, and a success clears its email and address's own count.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import caches
from django.http import HttpRequest

from accounts import signins
from accounts.models import User

# How long an address that signed in to an email stays exempt from that email's spray ceiling.
KNOWN_ADDRESS_SECONDS = 90 * 24 * 3600


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(f"Too many failed sign-in attempts. Try again in {retry_after} {unit}.")
        self.retry_after = retry_after


class InvalidCredentials(Exception):
    pass


@dataclass(frozen=True)
class _Scope:
    key: str
    threshold: int


def _identity(email: str, remote_addr: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return digest, remote_addr or "-"  # attempts without an address share one


def _known_key(digest: str, address: str) -> str:
    return f"login-known:{digest}:{address}"


def _scopes(email: str, remote_addr: str | None) -> list[_Scope]:
    """The pair first: a success clears it."""
    digest, address = _identity(email, remote_addr)
    limit = settings.LOGIN_FAILURE_LIMIT
    return [
        _Scope(f"login-fail:pair:{digest}:{address}", limit),
        _Scope(f"login-fail:ip:{address}", limit * 4),
        _Scope(f"login-fail:email:{digest}", limit * 20),
    ]


def _check_not_throttled(scopes: list[_Scope], *, known_address: bool) -> None:
    """LoginThrottled with the longest wait still running in any scope that applies."""
    applying = scopes[:2] if known_address else scopes
    untils = caches["throttle"].get_many([f"{scope.key}:until" for scope in applying])
    wait = max(untils.values(), default=0.0) - time.time()
    if wait > 0:
        raise LoginThrottled(retry_after=math.ceil(wait))


def _record_failure(scopes: list[_Scope]) -> None:
    cache = caches["throttle"]
    window = settings.LOGIN_FAILURE_WINDOW
    for scope in scopes:
        if cache.add(scope.key, 1, timeout=window):
            count = 1
        else:
            try:
                count = cache.incr(scope.key)
            except ValueError:  # expired between the two calls
                cache.set(scope.key, 1, timeout=window)
                count = 1
        wait = 0
        if count >= scope.threshold:
            wait = min(2 ** min(count - scope.threshold, 30), window)
            cache.set(f"{scope.key}:until", time.time() + wait, timeout=wait + 1)
        # Forgotten a window after the wait ends, so waiting the wait out does not reset the count.
        cache.touch(scope.key, timeout=wait + window)


def sign_in(
    request: HttpRequest | None, *, email: str, password: str, remote_addr: str | None, channel: str
) -> User:
    """The person with these credentials, or InvalidCredentials / LoginThrottled. A failure
    (not a throttled attempt) is in the audit trail (``accounts.signins``)."""
    scopes = _scopes(email, remote_addr)
    known_key = _known_key(*_identity(email, remote_addr))
    cache = caches["throttle"]
    _check_not_throttled(scopes, known_address=cache.get(known_key) is not None)
    user = authenticate(request, username=email.strip(), password=password)
    if user is None:
        _record_failure(scopes)
        signins.record(
            signins.FAILED,
            user=None,
            channel=channel,
            remote_addr=remote_addr,
            email=email.strip(),
            reason="wrong email or password",
        )
        raise InvalidCredentials
    pair = scopes[0].key
    cache.delete_many([pair, f"{pair}:until"])
    cache.set(known_key, 1, timeout=KNOWN_ADDRESS_SECONDS)
    return user
