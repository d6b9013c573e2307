"""Checks on every API call a person makes, offered here so the API's base view needs to know
none of the apps that add one (billing's day pass is one: an occasional agent's call uses or
consumes a pass, or is refused with 402).

A check takes the signed-in person and returns the response headers it wants added (``{}`` for
none), or raises to refuse the call. Apps register theirs from ``AppConfig.ready``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accounts.models import User

ApiCallCheck = Callable[[User], Mapping[str, str]]

_checks: list[ApiCallCheck] = []


def api_call_check(check: ApiCallCheck) -> ApiCallCheck:
    """Register ``check`` (usable as a decorator); registering twice keeps one."""
    if check not in _checks:
        _checks.append(check)
    return check


def api_call_checks(user: User) -> dict[str, str]:
    """Run every check for ``user``'s call; the headers they ask for, merged."""
    headers: dict[str, str] = {}
    for check in _checks:
        headers |= check(user)
    return headers
