"""What the email channel adds to a ticket's notification mail (email.md, "Sending"): a
Message-ID on our domain, stored against the ticket so that a reply's thread headers find it;
In-Reply-To and References of the ticket's thread; ``Auto-Submitted: auto-replied``; and the
ticket's signed reply address as Reply-To."""

from __future__ import annotations

from mail.addresses import new_message_id, reply_address
from mail.models import OutboundMessage
from notifications.models import Notification


def ticket_mail_headers(notification: Notification) -> dict[str, str]:
    if notification.ticket_id is None:
        return {}
    customer, ticket_id = notification.customer, int(notification.ticket_id)
    thread = OutboundMessage.objects.filter(customer=customer, ticket_id=ticket_id)
    thread = thread.order_by("created_at", "id")
    first = thread.values_list("message_id", flat=True).first()
    latest = thread.reverse().values_list("message_id", flat=True).first()
    message_id = new_message_id()
    OutboundMessage.objects.create(message_id=message_id, customer=customer, ticket_id=ticket_id)
    headers = {
        "Message-ID": f"<{message_id}>",
        "Auto-Submitted": "auto-replied",
        "Reply-To": reply_address(customer, ticket_id),
    }
    if latest:
        headers["In-Reply-To"] = f"<{latest}>"
        headers["References"] = " ".join(f"<{mid}>" for mid in dict.fromkeys([first, latest]) if mid)
    return headers
