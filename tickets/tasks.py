"""Turning ticket events (the outbox) into notifications, in the worker, after commit."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.models import User
from notifications.models import NotificationKind
from notifications.services import Message, notify_many
from serviflow.db import tenant_connection
from serviflow.tasks import TenantTask
from serviflow.urls_util import absolute_url, console_url
from tenants.models import Customer
from tickets.index.services import display_number
from tickets.models import EventKind, Party, Status, Ticket, TicketEvent


def ticket_url(customer: Customer, ticket: Ticket, user: User) -> str:
    """Where ``user`` opens the ticket: the console for agents, the portal for customers."""
    if user.may_use_console:
        return console_url(f"/customers/{customer.slug}/tickets/{ticket.pk}/")
    return absolute_url(customer.portal_host, f"/tickets/{ticket.pk}/")


def _recipients(event: TicketEvent) -> list[tuple[User, str]]:
    """Who hears about ``event``, and as what kind. Nobody is told about their own change,
    except a requester's confirmation that their ticket was received."""
    ticket = event.ticket
    requester, assignee, actor = ticket.requester_user, ticket.assignee, event.actor
    if event.kind == EventKind.CREATED:
        return [(requester, NotificationKind.TICKET_CREATED)]
    if event.kind == EventKind.ASSIGNED:
        return [(assignee, NotificationKind.TICKET_ASSIGNED)] if assignee and assignee != actor else []
    if event.kind == EventKind.UPDATED:
        resolved = event.changes.get("status", [None, None])[1] == Status.RESOLVED
        kind = NotificationKind.TICKET_RESOLVED if resolved else NotificationKind.TICKET_UPDATED
        return [(requester, kind)] if requester != actor else []
    if event.kind == EventKind.REPLIED and event.comment is not None:
        other = requester if event.comment.author_party == Party.AGENT else assignee
        return [(other, NotificationKind.TICKET_REPLY)] if other and other != actor else []
    return []


def _message(event: TicketEvent, customer: Customer, kind: str, user: User) -> Message:
    ticket = event.ticket
    number = display_number(customer, ticket.number)
    who = event.actor.name if event.actor else "ServiFlow"
    titles: dict[str, str] = {
        NotificationKind.TICKET_CREATED: f"[{number}] We received your request: {ticket.subject}",
        NotificationKind.TICKET_ASSIGNED: f"[{number}] {who} assigned you: {ticket.subject}",
        NotificationKind.TICKET_RESOLVED: f"[{number}] Resolved: {ticket.subject}",
        NotificationKind.TICKET_UPDATED: f"[{number}] Updated: {ticket.subject}",
        NotificationKind.TICKET_REPLY: f"[{number}] New reply from {who}: {ticket.subject}",
    }
    if kind == NotificationKind.TICKET_REPLY and event.comment is not None:
        body = event.comment.body
    elif event.changes:
        body = "\n".join(f"{name}: {old} → {new}" for name, (old, new) in event.changes.items())
    else:
        body = ticket.description
    return Message(
        kind=kind,
        customer=customer,
        title=titles[kind],
        body=body[:4000],
        url=ticket_url(customer, ticket, user),
        ticket_id=ticket.pk,
        ticket_number=number,
    )


@shared_task(base=TenantTask, name="tickets.notify_event")
def notify_event(event_id: int) -> int:
    """Runs inside the ticket's customer schema. Idempotent: a notification is unique per
    person and event, so a redelivered message sends nothing twice. Returns how many people
    were notified."""
    event = (
        TicketEvent.objects.select_related("ticket__requester_user", "ticket__assignee", "actor", "comment")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    customer: Customer = tenant_connection.tenant
    key = f"{customer.schema_name}:ticket-event:{event.pk}"
    sent = notify_many(
        [(user, _message(event, customer, kind, user), key) for user, kind in _recipients(event)]
    )
    TicketEvent.objects.filter(pk=event.pk, notified_at__isnull=True).update(notified_at=timezone.now())
    return sent
