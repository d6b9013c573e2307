"""The unified console index (public schema): a projection of every customer's tickets.

Written by ``tickets.index.services.index_write`` in the same transaction as the ticket change,
so the cross-customer queue is one indexed query over this table and can never disagree with
the tickets. ``manage.py rebuild_ticket_index`` re-derives it from the schemas and reports drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import models

# Tickets without a resolution due time sort after every ticket that has one.
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)


class TicketIndexEntry(models.Model):
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField(help_text="The ticket's id inside its customer's schema.")
    number = models.CharField(max_length=24, help_text="As people quote it: ACME-1042.")
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=10)
    priority = models.CharField(max_length=2)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requester_name = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Room for the SLA engine (issue #5): due times and the non-null sort key of the queue.
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    due_sort = models.DateTimeField(default=NO_DUE)
    # Where the ticket's SLA policy came from (the queue marks a requester's override).
    sla_source = models.CharField(max_length=10, blank=True, default="")

    class Meta:
        db_table = "ticket_index"
        constraints = [
            models.UniqueConstraint(fields=["customer", "ticket_id"], name="ticket_index_one_row_per_ticket"),
        ]
        indexes = [
            # The queue's default page: open and pending tickets by due time, newest first on ties.
            models.Index(
                models.F("due_sort").asc(),
                models.F("id").desc(),
                condition=models.Q(status__in=["open", "pending"]),
                name="ticket_index_active_due",
            ),
            models.Index(fields=["-created_at", "-id"], name="ticket_index_created"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_index_updated"),
            models.Index(fields=["customer", "status"], name="ticket_index_customer_status"),
            models.Index(fields=["assignee", "status"], name="ticket_index_assignee_status"),
        ]

    def __str__(self) -> str:
        return self.number
