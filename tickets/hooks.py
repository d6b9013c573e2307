"""What ticket changes offer the apps above tickets, so that tickets never imports them: a call
after each outbox event (``tickets.events.record_event``), registered from the app's
``AppConfig.ready`` (automation rules, ``automations.engine``).

A hook runs inside the change's transaction, right after the event's row is written: it must be
cheap and may only note what to do; work that changes tickets belongs after commit
(``transaction.on_commit``), so that it never fails or slows the change that called it."""

from __future__ import annotations

from collections.abc import Callable

from tickets.models import TicketEvent

EventHook = Callable[[TicketEvent], None]
_event_hooks: list[EventHook] = []


def after_ticket_event(hook: EventHook) -> None:
    if hook not in _event_hooks:
        _event_hooks.append(hook)


def ticket_event_recorded(event: TicketEvent) -> None:
    for hook in _event_hooks:
        hook(event)
