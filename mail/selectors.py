"""What the pages read of the email channel."""

from __future__ import annotations

from mail.models import InboundMessage, State
from tenants.models import Customer


def mails_of_ticket(customer: Customer, ticket_id: int) -> dict[int, int]:
    """The mails a ticket and its comments came from: comment id (0: the ticket itself) → the
    stored message's id (one query on an index)."""
    rows = InboundMessage.objects.filter(
        customer=customer, ticket_id=ticket_id, state__in=(State.TICKET, State.COMMENT)
    ).values_list("comment_id", "pk")
    return {comment_id or 0: pk for comment_id, pk in rows}
