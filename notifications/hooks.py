"""What notifications offer the apps above them, so that they never import them: headers for a
notification's email (the email channel adds its Message-ID, thread headers and reply address,
``mail.outbound``) and the rules' preview for a sample ticket (``tickets.notices``), registered
from the apps' ``AppConfig.ready``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifications.models import Notification
from tenants.models import Customer

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


# "Who would be notified" for a sample ticket (``tickets.notices.preview``, which knows
# tickets): per event the recipients and channels, or None when the customer has no such ticket.
PreviewHook = Callable[[Customer, int], list[dict[str, Any]] | None]
_preview_hooks: list[PreviewHook] = []


def ticket_preview_from(hook: PreviewHook) -> None:
    if hook not in _preview_hooks:
        _preview_hooks.append(hook)


def ticket_preview(customer: Customer, ticket_id: int) -> list[dict[str, Any]] | None:
    for hook in _preview_hooks:
        found = hook(customer, ticket_id)
        if found is not None:
            return found
    return None
