"""A person's in-app notifications; the email copy is sent from the same row.

``(user, event_key)`` is unique: a worker that runs the same event twice (acks_late after a
crash, a duplicated message) finds the row and neither shows nor emails it again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


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
    REPORT_ISSUED = "report_issued", "Report issued"
    AUTOMATION = "automation", "Automation rule notice"


class RuleEvent(models.TextChoices):
    """What a notification rule is about. The issue's nine events, and two that today's
    notifications also send: an agent's public reply and a change of other ticket fields."""

    TICKET_CREATED = "ticket_created", "Ticket created"
    CUSTOMER_REPLIED = "customer_replied", "Customer replied"
    AGENT_REPLIED = "agent_replied", "Agent replied"
    ASSIGNED = "assigned", "Assigned"
    STATUS_CHANGED = "status_changed", "Status changed"
    TICKET_UPDATED = "ticket_updated", "Other ticket changes"
    RESOLVED = "resolved", "Resolved"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breach"
    PREPAID_LOW = "prepaid_low", "Prepaid balance low"
    REPORT_ISSUED = "report_issued", "Report issued"


class Role(models.TextChoices):
    """Recipients named by what they are to the ticket or the customer (``tickets.notices.
    ticket_roles_read`` finds them; events without a ticket have only the customer-wide roles)."""

    REQUESTER = "requester", "Requester"
    COLLABORATORS = "collaborators", "Collaborators"
    ASSIGNEE = "assignee", "Assignee"
    WATCHERS = "watchers", "Watchers"
    MEMBER_AGENTS = "member_agents", "Member agents"
    PROVIDER_ADMINS = "provider_admins", "Provider admins"
    CUSTOMER_ADMINS = "customer_admins", "Customer admins"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In-app"


class NotificationRule(models.Model):
    """Who is told of an event, and how. ``customer`` NULL is a provider-wide rule. Precedence,
    per event: a customer's own rules for it replace the provider-wide ones, which replace the
    built-in defaults (``notifications.rules.DEFAULT_RULES``); a disabled rule still takes its
    level's place (disabling the only rule of an event silences it). ``recipients`` is a list of
    ``{"role": <Role>}`` and ``{"user": <id>}``; ``channels`` a list of ``Channel`` values.
    ``only_unassigned`` limits the rule to tickets nobody is assigned to; ``mutable`` says
    whether its recipients may mute it on their preference page."""

    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="notification_rules"
    )
    name = models.CharField(
        max_length=120, blank=True, help_text="What the rule is for, as its page lists it."
    )
    event = models.CharField(max_length=20, choices=RuleEvent.choices)
    recipients = models.JSONField(default=list)
    channels = models.JSONField(default=list)
    only_unassigned = models.BooleanField(default=False)
    mutable = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["event", "id"]
        indexes = [models.Index(fields=["customer", "event"], name="notifications_rule_event")]

    def __str__(self) -> str:
        return f"{self.event} ({self.customer_id or 'provider'})"


class NotificationPreference(models.Model):
    """One person's own settings: the events they muted per channel (``{event: [channel]}``,
    honoured only where the rule is mutable) and their quiet hours, local times in their own
    time zone (``quiet_from`` > ``quiet_to`` spans midnight; both NULL: none)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preference",
    )
    muted = models.JSONField(default=dict, blank=True)
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_to = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quiet_from__isnull=True, quiet_to__isnull=True)
                | models.Q(quiet_from__isnull=False, quiet_to__isnull=False),
                name="notifications_quiet_hours_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def shown(self) -> NotificationQuerySet:
        """The in-app feed: rows of email-only rules exist (they keep the email exactly-once)
        but are not shown."""
        return self.filter(in_app=True)


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
    # The channels its rules chose: ``in_app`` shows it in the feed, ``email`` mails it.
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    # Email held by the person's quiet hours until this instant, then sent in one digest.
    held_until = models.DateTimeField(null=True, blank=True)

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
            models.Index(
                fields=["held_until"],
                condition=models.Q(held_until__isnull=False, emailed_at__isnull=True),
                name="notifications_held",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
