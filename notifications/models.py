"""A person's in-app notifications; the email copy is sent from the same row.

``(user, event_key)`` is unique: a worker that runs the same event twice (acks_late after a
crash, a duplicated message) finds the row and neither shows nor emails it again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    TICKET_CREATED = "ticket_created", "Ticket created"
    TICKET_UPDATED = "ticket_updated", "Ticket updated"
    TICKET_RESOLVED = "ticket_resolved", "Ticket resolved"
    TICKET_ASSIGNED = "ticket_assigned", "Ticket assigned to you"
    TICKET_REPLY = "ticket_reply", "New reply"
    TICKET_MENTION = "ticket_mention", "Mentioned in a note"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breached"
    PREPAID_LOW = "prepaid_low", "Prepaid hours running low"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField(null=True, blank=True)
    ticket_number = models.CharField(max_length=24, blank=True)
    title = models.CharField(max_length=300)
    # A ticket's mail has the subject ``[ACME-12] <ticket subject>`` whatever happened (email.md:
    # mail programs thread on it); the title, which says what happened, heads its text.
    email_subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    event_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event_key"], name="notifications_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notifications_feed"),
            models.Index(
                fields=["user"], condition=models.Q(read_at__isnull=True), name="notifications_unread"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
