"""Which side a person writes for, and the outbox row each ticket change writes (``TicketEvent``):
shared by every module that changes tickets (``workflows``, ``family``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from accounts.models import User
from core.afterwards import after_response
from tenants.schema import tenant_connection
from tickets.hooks import ticket_event_recorded
from tickets.models import Party, Ticket, TicketEvent


def party_of(user: User) -> str:
    """Agents are provider staff and the customer's own agents; everyone else is the customer."""
    if user.is_agent_level:
        return Party.AGENT
    return Party.CUSTOMER


def record_event(ticket: Ticket, kind: str, by: User | None, **extra: Any) -> None:
    """Write the outbox row of a change, in the change's transaction; the worker notifies after
    commit."""
    event = TicketEvent.objects.create(ticket=ticket, kind=kind, actor=by, **extra)
    ticket_event_recorded(event)  # tickets.hooks: what the apps above note (automations)
    from tickets.tasks import notify_event

    schema = tenant_connection.schema_name
    # robust: the change is committed by then; a broker outage is logged and leaves the outbox
    # row un-notified rather than failing a request whose work is already saved. In a request,
    # the enqueue waits until the response has gone out (core.afterwards): not on its path.
    enqueue = partial(notify_event.apply_async, (event.pk,), schema=schema)
    transaction.on_commit(partial(after_response, enqueue), robust=True)
