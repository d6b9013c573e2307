"""What notifications offer the apps above them, so that they never import them: headers for a
notification's email (the email channel adds its Message-ID, thread headers and reply address,
``mail.outbound``), registered from the app's ``AppConfig.ready``."""

from __future__ import annotations

from collections.abc import Callable

from notifications.models import Notification

HeaderHook = Callable[[Notification], dict[str, str]]
_header_hooks: list[HeaderHook] = []


def email_headers_from(hook: HeaderHook) -> None:
    if hook not in _header_hooks:
        _header_hooks.append(hook)


def email_headers(notification: Notification) -> dict[str, str]:
    headers: dict[str, str] = {}
    for hook in _header_hooks:
        headers.update(hook(notification))
    return headers
