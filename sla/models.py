"""SLA policies, business-hours profiles and the SLA timers (public schema, shared by all).

Profiles and policies are configuration; a ticket copies what it uses (a snapshot) when its
policy is resolved, so editing them changes new tickets only. ``SlaTimer`` and ``SlaEvent``
are the sweep's index and ledger: the next warning or breach instant of every running clock of
every customer in one indexed table, and each warning or breach recorded once (a unique key).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.querysets import AuditedQuerySet
from sla.engine.clocks import Clock

PRIORITIES = ("P1", "P2", "P3", "P4")
# The provider default created with the database (sla migration 0003 keeps its own copy).
STANDARD_TARGETS = {
    "P1": {"first_response": 60, "resolution": 240},
    "P2": {"first_response": 120, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 2880},
}


class BusinessHours(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    schedule = models.JSONField(default=dict, help_text='{"mon": [["09:00", "17:00"]], ...}')
    holidays = models.JSONField(default=list, help_text='["2026-12-25", ...]')

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return self.name

    def as_profile(self) -> dict[str, Any]:
        """What a ticket's snapshot keeps of the profile (and what the calendar is built from)."""
        return {
            "id": self.pk,
            "name": self.name,
            "timezone": self.timezone,
            "schedule": self.schedule,
            "holidays": self.holidays,
        }


class SlaPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    targets = models.JSONField(default=dict)
    warning_percent = models.PositiveSmallIntegerField(default=80)
    is_default = models.BooleanField(default=False)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="sla_one_default_policy",
            ),
            models.CheckConstraint(
                condition=models.Q(warning_percent__gte=1, warning_percent__lte=99),
                name="sla_warning_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def targets_for(self, priority: str) -> dict[str, int]:
        return dict(self.targets[priority])


class PolicySource(models.TextChoices):
    """Where a ticket's policy came from, in the order the hierarchy is tried (sla.md)."""

    TICKET = "ticket", "Ticket override"
    REQUESTER = "requester", "Requester override"
    CI = "ci", "Configuration item"
    REQUEST_TYPE = "request_type", "Request type"
    CONTRACT = "contract", "Customer contract"
    CUSTOMER = "customer", "Customer default"
    DEFAULT = "default", "Provider default"


class SlaEventKind(models.TextChoices):
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"


class SlaTimer(models.Model):
    """The next instant at which one clock of one ticket crosses its warning or its due time.

    Written in the same transaction as the ticket (like the unified index), read by the sweep
    through the ``fire_at`` index, so a sweep costs what is due, not what exists."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField()
    clock = models.CharField(max_length=20, choices=Clock.choices)
    kind = models.CharField(max_length=10, choices=SlaEventKind.choices)
    fire_at = models.DateTimeField()

    class Meta:
        db_table = "sla_timer"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "ticket_id", "clock", "kind"], name="sla_timer_one_per_clock_and_kind"
            ),
        ]
        indexes = [models.Index(fields=["fire_at"], name="sla_timer_fire_at")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.clock} for ticket {self.ticket_id} at {self.fire_at:%Y-%m-%d %H:%M}"


class SlaEvent(models.Model):
    """A warning or breach that happened, recorded exactly once: a breach once per clock, a
    warning once per clock and resolution ``generation`` (a re-resolution that moves the due
    time earns one more). ``recipients`` is fixed when recorded, so a re-run of the sweep
    notifies the same people; ``notified_at`` is set once all of them have been notified."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField()
    clock = models.CharField(max_length=20, choices=Clock.choices)
    kind = models.CharField(max_length=10, choices=SlaEventKind.choices)
    generation = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(help_text="The instant the clock crossed its warning or due time.")
    due = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recipients = models.JSONField(default=list)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sla_event"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "ticket_id", "clock", "kind", "generation"], name="sla_event_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(notified_at__isnull=True), name="sla_event_unnotified"
            ),
            models.Index(fields=["customer", "ticket_id"], name="sla_event_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.clock} for ticket {self.ticket_id}"
