"""What ticket changes offer the apps above tickets, so that tickets never imports them: a call
after each outbox event (``tickets.events.record_event``), and a call after a change of a
ticket's custom fields or request type (which writes no outbox event: nobody is notified of
hidden fields), registered from the app's ``AppConfig.ready`` (automation rules,
``automations.engine``).

A hook runs inside the change's transaction, right after the event's row (or the ticket) is
written: it must be cheap and may only note what to do; work that changes tickets belongs after
commit (``transaction.on_commit``), so that it never fails or slows the change that called it."""

from __future__ import annotations

from collections.abc import Callable

from tickets.models import Ticket, TicketEvent

EventHook = Callable[[TicketEvent], None]
FieldsHook = Callable[[Ticket], None]
_event_hooks: list[EventHook] = []
_fields_hooks: list[FieldsHook] = []


def after_ticket_event(hook: EventHook) -> None:
    if hook not in _event_hooks:
        _event_hooks.append(hook)


def ticket_event_recorded(event: TicketEvent) -> None:
    for hook in _event_hooks:
        hook(event)


def after_fields_change(hook: FieldsHook) -> None:
    if hook not in _fields_hooks:
        _fields_hooks.append(hook)


def ticket_fields_changed(ticket: Ticket) -> None:
    """``ticket``'s custom field values or request type changed (saved, in the transaction)."""
    for hook in _fields_hooks:
        hook(ticket)
