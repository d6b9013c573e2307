"""What a ticket event tells whom: the recipients of an outbox event, the message they get and
the link to the ticket (console for agents, portal for customers), and what an occasional agent
without an active day pass may be told (``screened``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.utils import timezone

from accounts.models import User
from billing.services import holding_passes, needs_day_pass
from core.links import console_link, portal_link
from notifications.models import NotificationKind
from notifications.services import Delivery, Message
from tenants.models import Customer
from tickets.collaborators import collaborators_of, watchers_of
from tickets.index.services import display_number
from tickets.models import EventKind, Party, Status, Ticket, TicketEvent
from tickets.satisfaction.services import rating_links, survey_text


def ticket_url(customer: Customer, ticket: Ticket, user: User) -> str:
    """Where ``user`` opens the ticket: the console for agents, the portal for customers."""
    if user.may_use_console:
        return console_link("console-ticket", slug=customer.slug, ticket_id=ticket.pk)
    return portal_link(customer.portal_host, "portal-ticket", ticket_id=ticket.pk)


def event_recipients(event: TicketEvent) -> list[tuple[User, str]]:
    """Who hears about ``event``, and as what kind. Nobody is told about their own change,
    except a requester's confirmation that their ticket was received. Beside the requester
    and the assignee: the ticket's collaborators hear what the requester hears, its watchers
    what the assignee hears, and agents ``@mentioned`` in a private note hear of that note."""
    ticket = event.ticket
    requester, assignee, actor = ticket.requester_user, ticket.assignee, event.actor
    if event.kind == EventKind.CREATED:
        return [(requester, NotificationKind.TICKET_CREATED)]
    if event.kind == EventKind.ASSIGNED:
        return [(assignee, NotificationKind.TICKET_ASSIGNED)] if assignee and assignee != actor else []
    if event.kind == EventKind.MENTIONED:
        named = User.objects.filter(pk__in=event.changes.get("mentioned", []), is_active=True)
        return [(user, NotificationKind.TICKET_MENTION) for user in named if user != actor]
    customer_side = [requester, *collaborators_of(ticket)]
    agent_side = [assignee, *watchers_of(ticket)]
    if event.kind == EventKind.UPDATED:
        resolved = event.changes.get("status", [None, None])[1] == Status.RESOLVED
        kind = NotificationKind.TICKET_RESOLVED if resolved else NotificationKind.TICKET_UPDATED
        told = [*customer_side, *agent_side[1:]]  # the assignee, as before, only if watching
        return _once([(user, kind) for user in told], actor)
    if event.kind == EventKind.REPLIED and event.comment is not None:
        if event.comment.author_party == Party.AGENT:
            told = [*customer_side, *agent_side[1:]]
        else:
            told = [*agent_side, *customer_side]
        return _once([(user, NotificationKind.TICKET_REPLY) for user in told], actor)
    return []


def _once(recipients: list[tuple[User | None, str]], actor: User | None) -> list[tuple[User, str]]:
    """Each person once, in order, leaving out nobody (None) and whoever acted."""
    seen: set[int] = set()
    told: list[tuple[User, str]] = []
    for user, kind in recipients:
        if user is None or user == actor or user.pk in seen:
            continue
        seen.add(user.pk)
        told.append((user, kind))
    return told


def mail_subject(number: str, ticket: Ticket) -> str:
    """The subject of every mail about a ticket (email.md, "Sending")."""
    return f"[{number}] {ticket.subject}"[:300]


def event_message(event: TicketEvent, customer: Customer, kind: str, user: User) -> Message:
    ticket = event.ticket
    number = display_number(customer, ticket.number)
    who = event.actor.name if event.actor else "ServiFlow"
    titles: dict[str, str] = {
        NotificationKind.TICKET_CREATED: f"[{number}] We received your request: {ticket.subject}",
        NotificationKind.TICKET_ASSIGNED: f"[{number}] {who} assigned you: {ticket.subject}",
        NotificationKind.TICKET_RESOLVED: f"[{number}] Resolved: {ticket.subject}",
        NotificationKind.TICKET_UPDATED: f"[{number}] Updated: {ticket.subject}",
        NotificationKind.TICKET_REPLY: f"[{number}] New reply from {who}: {ticket.subject}",
        NotificationKind.TICKET_MENTION: f"[{number}] {who} mentioned you in a note: {ticket.subject}",
    }
    if kind in (NotificationKind.TICKET_REPLY, NotificationKind.TICKET_MENTION) and event.comment is not None:
        body = event.comment.body
    elif event.changes:
        body = "\n".join(f"{name}: {old} → {new}" for name, (old, new) in event.changes.items())
    else:
        body = ticket.description
    survey = ""  # the requester of a resolved ticket is asked to rate it, once
    if kind == NotificationKind.TICKET_RESOLVED:
        survey = survey_text(rating_links(customer=customer, event=event, user=user))
    if survey:
        body = body[: 4000 - len(survey)] + survey
    return Message(
        kind=kind,
        customer=customer,
        title=titles[kind],
        body=body[:4000],
        url=ticket_url(customer, ticket, user),
        ticket_id=ticket.pk,
        ticket_number=number,
        subject=mail_subject(number, ticket),
    )


WITHHELD = (
    "This message leaves out the ticket's text: you have no active day pass. Open the ticket to "
    "read it (that uses a day pass if you have none today)."
)


def screened(deliveries: list[Delivery], now: datetime | None = None) -> list[Delivery]:
    """Ticket text reaches an occasional agent only while they hold an active day pass (reading
    a ticket is agent access, which costs a pass; an email must not be a free way round it).
    Without one they are still told that something happened on which ticket, with the link,
    in the feed and by email alike, but not the subject, the reply or any other ticket text.
    One query for the whole batch, and none without an occasional agent in it."""
    occasional = [user for user, _, _ in deliveries if needs_day_pass(user)]
    if not occasional:
        return deliveries
    passes = holding_passes(occasional, now or timezone.now())
    return [
        (
            user,
            without_ticket_text(message) if needs_day_pass(user) and user.pk not in passes else message,
            key,
        )
        for user, message, key in deliveries
    ]


def without_ticket_text(message: Message) -> Message:
    """The same notification, naming only its kind and the ticket's reference (the subject of
    its mail too: a ticket's subject is ticket text)."""
    label = NotificationKind(message.kind).label
    title = f"[{message.ticket_number}] {label}"[:300]
    return replace(message, title=title, subject=title, body=WITHHELD)
