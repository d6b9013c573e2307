"""Where a parsed mail goes (email.md, "Routing: the first rule that applies wins"), with a trace
of every rule: what it checked, and why it matched or not. Nothing here writes; ``mail.processing``
acts on the ``Decision``.

A mail's From, Subject and Message-ID are whatever the sender typed, so none of them alone moves
anything across customers: a reply address is signed, a thread header must name a Message-ID we
sent, a subject reference counts only for the ticket's own requester or collaborators, and a
sender is only ever a user of the customer the mail lands in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import User, UserKind
from mail.addresses import our_senders, pinned_slug, reply_target
from mail.models import InboundAddress, InboundMessage, MailSettings, OutboundMessage
from mail.parsing import Parsed
from tenants.access import works_tickets_of
from tenants.models import Customer, CustomerSettings, EmailDomain
from tenants.schema import customer_schema
from tickets.collaborators import is_collaborator
from tickets.models import Ticket

TICKET, COMMENT, TRIAGE, IGNORED = "ticket", "comment", "triage", "ignored"
_SUBJECT_REFERENCE = re.compile(r"\[([A-Za-z][A-Za-z0-9]{1,9})-([0-9]{1,9})\]")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
FLOOD_WINDOW = timedelta(minutes=10)


@dataclass
class Decision:
    outcome: str
    reason: str
    customer: Customer | None = None
    ticket: Ticket | None = None  # the ticket a comment lands on, read in its customer's schema
    sender: User | None = None
    new_user: bool = False  # make the sender a user of ``customer`` first
    flood: bool = False
    bounce: bool = False
    # An agent sent the mail on from triage: values it gives the form that fail are left out
    # (named in a note) instead of sending it back to triage (``mail.processing``).
    from_triage: bool = False
    trace: list[dict[str, Any]] = field(default_factory=list)


class _Trace:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def note(self, rule: str, checked: str, result: str) -> None:
        self.steps.append({"rule": rule, "checked": checked, "result": result})

    def decide(self, outcome: str, reason: str, **kwargs: Any) -> Decision:
        return Decision(outcome=outcome, reason=reason[:300], trace=self.steps, **kwargs)


def not_a_ticket(parsed: Parsed, envelope_from: str) -> str:
    """Why a mail makes no ticket, no comment and no reply ("" when it may)."""
    headers = parsed.headers
    # A bounce first: MTAs mark their bounces Auto-Submitted too, and a bounce is recorded as one.
    if parsed.content_type == "multipart/report" or parsed.from_address.split("@")[0] in _BOUNCE_SENDERS:
        return "a delivery report (bounce)"
    auto = headers.get("auto-submitted", "")
    if auto and auto.strip().lower() != "no":
        return f"an automatic message (Auto-Submitted: {auto[:40]})"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"an automatic reply ({name.title()})"
    if headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list"):
        return f"bulk mail (Precedence: {headers['precedence'][:20]})"
    if parsed.from_address in our_senders():
        return "mail from our own sending address (a loop)"
    return ""


def _user(email: str) -> User | None:
    return User.objects.filter(email__iexact=email, is_active=True).first() if email else None


def _customer_of(slug: str) -> Customer | None:
    # with its settings: a ticket made or answered there is numbered with its prefix
    return (
        Customer.objects.filter(slug=slug, is_active=True)
        .exclude(schema_name="public")
        .select_related("settings")
        .first()
    )


def _may_write(customer: Customer, ticket: Ticket, user: User | None, *, agents: bool) -> bool:
    """The requester, a collaborator, or (``agents``) someone who works the customer's tickets."""
    if user is None:
        return False
    if ticket.requester_user_id == user.pk:
        return True
    if user.is_customer_user and user.customer_id == customer.pk and is_collaborator(ticket, user):
        return True
    return agents and works_tickets_of(user, customer)


def _answer(
    trace: _Trace, rule: str, customer: Customer, ticket_id: int, sender: User | None, *, agents: bool
) -> Decision | None:
    with customer_schema(customer):
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        allowed = ticket is not None and _may_write(customer, ticket, sender, agents=agents)
    if ticket is None:
        trace.note(rule, f"ticket {ticket_id} of {customer.slug}", "no such ticket")
        return None
    if not allowed:
        trace.note(rule, "the sender may write on that ticket", "no: the sender is not one of its people")
        return trace.decide(
            TRIAGE, f"{rule}: the sender may not write on that ticket", customer=None, sender=sender
        )
    trace.note(rule, "the sender may write on that ticket", "yes")
    return trace.decide(
        COMMENT,
        f"{rule}: a reply on ticket {ticket_id}",
        customer=customer,
        ticket=ticket,
        sender=sender,
    )


def _flooding(sender: str) -> bool:
    since = timezone.now() - FLOOD_WINDOW
    recent = InboundMessage.objects.filter(from_address=sender, received_at__gte=since).exclude(
        state="received"
    )
    return recent.count() >= int(settings.EMAIL_SENDER_LIMIT)


def route(message: InboundMessage, parsed: Parsed) -> Decision:
    trace = _Trace()
    sender_address = parsed.from_address
    if reason := not_a_ticket(parsed, message.envelope_from):
        trace.note("not a ticket", "automatic, bulk, bounce and loop headers", reason)
        return trace.decide(IGNORED, reason, bounce="bounce" in reason)
    trace.note("not a ticket", "automatic, bulk, bounce and loop headers", "none found")
    if sender_address and _flooding(sender_address):
        trace.note("flood", f"more than {settings.EMAIL_SENDER_LIMIT} mails in 10 minutes", "yes")
        return trace.decide(TRIAGE, "a flood from this sender", flood=True)
    sender = _user(sender_address)
    recipients = list(dict.fromkeys([*message.envelope_to, *parsed.to]))

    # 1. a reply address (signed)
    for address in recipients:
        target = reply_target(address)
        if target is None:
            continue
        customer = _customer_of(target.slug)
        if customer is None:
            trace.note("1 reply address", address, "the customer is gone")
            continue
        trace.note("1 reply address", address, f"ticket {target.ticket_id} of {customer.slug}")
        if (
            decided := _answer(trace, "1 reply address", customer, target.ticket_id, sender, agents=True)
        ) is not None:
            return decided
    trace.note("1 reply address", "recipients", "none is a valid reply address")

    # 2. thread headers naming a Message-ID we sent
    if parsed.thread_ids:
        sent = (
            OutboundMessage.objects.filter(message_id__in=parsed.thread_ids[:50])
            .select_related("customer__settings")
            .first()
        )
        if sent is not None and sent.customer.is_active:
            trace.note(
                "2 thread headers", "In-Reply-To and References", f"a mail we sent for {sent.customer.slug}"
            )
            decided = _answer(trace, "2 thread headers", sent.customer, sent.ticket_id, sender, agents=True)
            if decided is not None:
                return decided
        else:
            trace.note("2 thread headers", "In-Reply-To and References", "names no mail we sent")
    else:
        trace.note("2 thread headers", "In-Reply-To and References", "none")

    # 3. a ticket reference in the subject: its requester or collaborators only
    if match := _SUBJECT_REFERENCE.search(parsed.subject):
        prefix, number = match.group(1).upper(), int(match.group(2))
        owner = CustomerSettings.objects.filter(ticket_prefix=prefix).select_related("customer").first()
        customer = owner.customer if owner is not None and owner.customer.is_active else None
        ticket = None
        if customer is not None:
            with customer_schema(customer):
                ticket = Ticket.objects.filter(number=number).first()
                allowed = ticket is not None and _may_write(customer, ticket, sender, agents=False)
        if ticket is not None and customer is not None and allowed:
            trace.note("3 subject reference", match.group(0), "the sender is its requester or a collaborator")
            return trace.decide(
                COMMENT,
                f"3 subject reference: a reply on {match.group(0)}",
                customer=customer,
                ticket=ticket,
                sender=sender,
            )
        trace.note("3 subject reference", match.group(0), "ignored: not a ticket the sender is on")
    else:
        trace.note("3 subject reference", "the subject", "no reference")

    # 4. a recipient pinned to a customer
    pinned: dict[int, Customer] = {}
    for address in recipients:
        slug = pinned_slug(address)
        customer = _customer_of(slug) if slug else None
        if customer is None:
            alias = (
                InboundAddress.objects.filter(address=address, customer__isnull=False)
                .select_related("customer")
                .first()
            )
            owner = alias.customer if alias is not None else None
            customer = owner if owner is not None and owner.is_active else None
        if customer is not None:
            pinned[customer.pk] = customer
    # the IMAP mailbox it came from, when pinned to a customer, is a recipient pinned to it
    box = message.mailbox if message.mailbox_id is not None else None
    if box is not None and box.customer is not None and box.customer.is_active:
        pinned[box.customer.pk] = box.customer
        trace.note("4 pinned recipient", f"mailbox {box.username}", f"pinned to {box.customer.slug}")
    if len(pinned) > 1:
        names = ", ".join(sorted(c.slug for c in pinned.values()))
        trace.note("4 pinned recipient", "recipients", f"several customers: {names}")
        return trace.decide(TRIAGE, f"addressed to several customers ({names})")
    if pinned:
        (customer,) = pinned.values()
        trace.note("4 pinned recipient", "recipients", f"pinned to {customer.slug}")
        if sender is not None and sender.is_customer_user and sender.customer_id == customer.pk:
            return trace.decide(
                TICKET,
                f"4 pinned recipient: a new ticket of {customer.slug}",
                customer=customer,
                sender=sender,
            )
        if sender is None and _accepts_new_sender(customer, sender_address):
            trace.note("4 pinned recipient", "new senders in the customer's domains", "accepted")
            return trace.decide(
                TICKET,
                f"4 pinned recipient: a new user and ticket of {customer.slug}",
                customer=customer,
                new_user=True,
            )
        trace.note("4 pinned recipient", "the sender", "not one of its users, and not accepted as new")
        return trace.decide(TRIAGE, f"4 pinned recipient: the sender is not a user of {customer.slug}")
    trace.note("4 pinned recipient", "recipients", "none pinned to a customer")

    # 5. a known sender
    known = sender.customer if sender is not None and sender.kind == UserKind.CUSTOMER_USER else None
    if known is not None:
        customer = known
        if customer.is_active:
            trace.note("5 known sender", sender_address, f"a user of {customer.slug}")
            return trace.decide(
                TICKET, f"5 known sender: a new ticket of {customer.slug}", customer=customer, sender=sender
            )
    trace.note("5 known sender", sender_address or "no sender", "not a customer's user")

    # 6. the sender's domain, where the customer takes new senders
    domain = sender_address.rsplit("@", 1)[-1] if "@" in sender_address else ""
    owner_domain = (
        EmailDomain.objects.filter(domain=domain).select_related("customer").first() if domain else None
    )
    if (
        owner_domain is not None
        and sender is None
        and _accepts_new_sender(owner_domain.customer, sender_address)
    ):
        customer = owner_domain.customer
        trace.note("6 sender domain", domain, f"{customer.slug}'s, which takes new senders")
        return trace.decide(
            TICKET,
            f"6 sender domain: a new user and ticket of {customer.slug}",
            customer=customer,
            new_user=True,
        )
    trace.note("6 sender domain", domain or "none", "no customer takes new senders from it")

    # 7. triage
    return trace.decide(TRIAGE, "no rule applied")


def _accepts_new_sender(customer: Customer, address: str) -> bool:
    if not customer.is_active or "@" not in address:
        return False
    chosen = (
        MailSettings.objects.filter(customer=customer).values_list("accept_new_senders", flat=True).first()
    )
    domain = address.rsplit("@", 1)[1]
    return bool(chosen) and EmailDomain.objects.filter(customer=customer, domain=domain).exists()
