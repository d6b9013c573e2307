"""What the email channel adds to a ticket's notification mail (email.md, "Sending"): a
Message-ID on our domain, stored against the ticket so that a reply's thread headers find it;
In-Reply-To and References of the ticket's thread; ``Auto-Submitted: auto-replied``; and the
ticket's signed reply address as Reply-To."""

from __future__ import annotations

from django.db import connection

from mail.addresses import new_message_id, reply_address
from mail.models import OutboundMessage
from notifications.models import Notification

# One statement per mail: the new Message-ID stored, and the thread's first and latest read from
# the rows as they were before it (the notification sweep sends many mails in one run).
_STORE_AND_READ_THREAD = """
WITH thread AS (
    SELECT message_id, created_at, id FROM {table} WHERE customer_id = %(customer)s AND ticket_id = %(ticket)s
)
INSERT INTO {table} (message_id, customer_id, ticket_id, created_at)
VALUES (%(message_id)s, %(customer)s, %(ticket)s, now())
RETURNING
    (SELECT message_id FROM thread ORDER BY created_at, id LIMIT 1),
    (SELECT message_id FROM thread ORDER BY created_at DESC, id DESC LIMIT 1)
"""


def ticket_mail_headers(notification: Notification) -> dict[str, str]:
    if notification.ticket_id is None:
        return {}
    customer, ticket_id = notification.customer, int(notification.ticket_id)
    message_id = new_message_id()
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _STORE_AND_READ_THREAD.format(table=table),
            {"customer": customer.pk, "ticket": ticket_id, "message_id": message_id},
        )
        first, latest = cursor.fetchone()
    headers = {
        "Message-ID": f"<{message_id}>",
        "Auto-Submitted": "auto-replied",
        "Reply-To": reply_address(customer, ticket_id),
    }
    if latest:
        headers["In-Reply-To"] = f"<{latest}>"
        headers["References"] = " ".join(f"<{mid}>" for mid in dict.fromkeys([first, latest]) if mid)
    return headers
