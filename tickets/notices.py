"""What a ticket event tells whom: the recipients of an outbox event by the customer's
notification rules (``notifications.rules``, fed the ticket's people by ``ticket_roles_read``), the
message they get and the link to the ticket (console for agents, portal for customers), and what
an occasional agent without an active day pass may be told (``screened``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from django.utils import timezone

from accounts.models import User
from billing.services import holding_passes, needs_day_pass
from core.links import console_link, portal_link
from notifications.models import NotificationKind, Role, RuleEvent
from notifications.rules import (
    BOTH,
    CUSTOMER_WIDE_EVENTS,
    Recipient,
    Roles,
    Router,
    customer_roles,
    deliveries,
    route,
)
from notifications.services import Delivery, Message
from tenants.models import Customer
from tickets.collaborators import collaborators_of, watchers_of
from tickets.index.services import display_number
from tickets.models import EventKind, Party, Priority, Status, Ticket, TicketEvent
from tickets.satisfaction.services import rating_links, survey_text


def ticket_url(customer: Customer, ticket: Ticket, user: User) -> str:
    """Where ``user`` opens the ticket: the console for agents, the portal for customers."""
    if user.may_use_console:
        return console_link("console-ticket", slug=customer.slug, ticket_id=ticket.pk)
    return portal_link(customer.portal_host, "portal-ticket", ticket_id=ticket.pk)


# A ticket event's notification kind (what the feed and the mail call it), by rule event.
KINDS: dict[str, str] = {
    RuleEvent.TICKET_CREATED: NotificationKind.TICKET_CREATED,
    RuleEvent.CUSTOMER_REPLIED: NotificationKind.TICKET_REPLY,
    RuleEvent.AGENT_REPLIED: NotificationKind.TICKET_REPLY,
    RuleEvent.ASSIGNED: NotificationKind.TICKET_ASSIGNED,
    RuleEvent.STATUS_CHANGED: NotificationKind.TICKET_UPDATED,
    RuleEvent.TICKET_UPDATED: NotificationKind.TICKET_UPDATED,
    RuleEvent.RESOLVED: NotificationKind.TICKET_RESOLVED,
}


def rule_event(event: TicketEvent) -> str | None:
    """The notification rules' event (``RuleEvent``) an outbox event is, or None for one the
    rules do not route (a mention tells the agents it names, always)."""
    if event.kind == EventKind.CREATED:
        return RuleEvent.TICKET_CREATED
    if event.kind == EventKind.ASSIGNED:
        return RuleEvent.ASSIGNED
    if event.kind == EventKind.UPDATED:
        if "status" not in event.changes:
            return RuleEvent.TICKET_UPDATED
        resolved = event.changes["status"][1] == Status.RESOLVED
        return RuleEvent.RESOLVED if resolved else RuleEvent.STATUS_CHANGED
    if event.kind == EventKind.REPLIED and event.comment is not None:
        by_agent = event.comment.author_party == Party.AGENT
        return RuleEvent.AGENT_REPLIED if by_agent else RuleEvent.CUSTOMER_REPLIED
    return None


def event_recipients(
    event: TicketEvent, customer: Customer, *, router: Router | None = None, with_muted: bool = False
) -> list[Recipient]:
    """Who hears about ``event`` and on which channels: the customer's notification rules
    (``notifications.rules``) applied to the ticket's people. Nobody is told about their own
    change, except a requester's confirmation that their ticket was received. Agents
    ``@mentioned`` in a private note hear of it, in the feed and by email, whatever the rules."""
    actor = event.actor
    if event.kind == EventKind.MENTIONED:
        named = User.objects.filter(pk__in=event.changes.get("mentioned", []), is_active=True)
        return [Recipient(user, BOTH, mutable=False) for user in named if user != actor]
    name = rule_event(event)
    if name is None:
        return []
    ticket = event.ticket
    left_out = {actor.pk} if actor is not None else set()
    if name == RuleEvent.TICKET_CREATED:
        left_out.discard(ticket.requester_user_id)
    return route(
        customer,
        name,
        ticket_roles_read(customer, ticket),
        assigned=ticket.assignee_id is not None,
        router=router,
        left_out=left_out,
        with_muted=with_muted,
    )


def event_deliveries(event: TicketEvent, customer: Customer) -> list[Delivery]:
    """The batch ``notify_many`` delivers for an outbox event (before ``screened``): each
    recipient's message on their channels, under the event's key; urgent (through quiet hours)
    on a P1 ticket."""
    name = rule_event(event)
    if event.kind == EventKind.MENTIONED:
        kind = NotificationKind.TICKET_MENTION.value
    elif name is not None:
        kind = KINDS[name]
    else:
        return []
    key = f"{customer.schema_name}:ticket-event:{event.pk}"
    urgent = event.ticket.priority == Priority.P1
    return deliveries(
        event_recipients(event, customer),
        lambda user: replace(event_message(event, customer, kind, user), urgent=urgent),
        key,
    )


def mail_subject(number: str, ticket: Ticket) -> str:
    """The subject of every mail about a ticket (email.md, "Sending")."""
    return f"[{number}] {ticket.subject}"[:300]


def event_message(event: TicketEvent, customer: Customer, kind: str, user: User) -> Message:
    ticket = event.ticket
    number = display_number(customer, ticket.number)
    who = event.actor.name if event.actor else "ServiFlow"
    if user == ticket.requester_user:
        created = f"[{number}] We received your request: {ticket.subject}"
    else:
        created = f"[{number}] New ticket from {ticket.requester_user.name}: {ticket.subject}"
    if user == ticket.assignee or ticket.assignee is None:
        assigned = f"[{number}] {who} assigned you: {ticket.subject}"
    else:
        assigned = f"[{number}] {who} assigned {ticket.assignee.name}: {ticket.subject}"
    titles: dict[str, str] = {
        NotificationKind.TICKET_CREATED: created,
        NotificationKind.TICKET_ASSIGNED: assigned,
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


# --- roles ---------------------------------------------------------------------------------------


def ticket_roles_read(customer: Customer, ticket: Ticket, *, shared: Roles | None = None) -> Roles:
    """The people of each recipient role of a notification rule (``notifications.models.Role``)
    for ``ticket``, active ones only, each role read when first asked for: its requester,
    collaborators, assignee and watchers, and the customer-wide roles (``notifications.rules.
    customer_roles``: member agents, provider admins, customer admins; ``shared`` when the
    caller has them). Inside the customer's schema (collaborators and watchers live there)."""
    customer_wide = shared if shared is not None else customer_roles(customer)

    def requester() -> list[User]:
        return [ticket.requester_user] if ticket.requester_user.is_active else []

    def assignee() -> list[User]:
        person = ticket.assignee
        return [person] if person is not None and person.is_active else []

    return Roles(
        {
            Role.REQUESTER.value: requester,
            Role.COLLABORATORS.value: lambda: collaborators_of(ticket).filter(is_active=True),
            Role.ASSIGNEE.value: assignee,
            Role.WATCHERS.value: lambda: watchers_of(ticket).order_by("name", "pk"),
            **{role: partial(customer_wide.__getitem__, role) for role in customer_wide},
        }
    )


def preview(customer: Customer, ticket_id: int) -> list[dict[str, Any]] | None:
    """ "Who would be notified" of each event on ``customer``'s ticket ``ticket_id`` as it is now
    (its assignee decides the rules ``only_unassigned``), by the rules that apply: per event the
    people, their channels and what they muted. Nobody is left out as an actor (none is
    assumed); events without a ticket (prepaid low, report issued) have only the customer-wide
    roles. None if the customer has no such ticket. Inside the customer's schema."""
    ticket = Ticket.objects.select_related("requester_user", "assignee").filter(pk=ticket_id).first()
    if ticket is None:
        return None
    router = Router.load([customer])
    shared = customer_roles(customer)
    roles = ticket_roles_read(customer, ticket, shared=shared)
    found: list[dict[str, Any]] = []
    for event in RuleEvent:
        wide = event.value in CUSTOMER_WIDE_EVENTS
        recipients = router.route(
            customer,
            event.value,
            shared if wide else roles,
            assigned=False if wide else ticket.assignee_id is not None,
            with_muted=True,
        )
        found.append(
            {
                "event": event.value,
                "label": event.label,
                "source": router.book.level(customer.pk, event.value),
                "recipients": [
                    {
                        "user": one.user.pk,
                        "name": one.user.name,
                        "email": one.user.email,
                        "channels": sorted(one.channels),
                        "muted": sorted(one.muted),
                    }
                    for one in recipients
                ],
            }
        )
    return found
