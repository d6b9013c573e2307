"""Contracts, prepaid hours and time (public schema; ``spec/reports.md``).

Every row names its customer, and every read filters by it: the time of one customer's ticket is
``TimeEntry(customer=…, ticket_id=…)`` (the ticket's id inside that customer's schema, like the
ticket index). Keeping these rows beside each other lets the monthly figures of a thousand
customers be one query each.

Time entries and the prepaid ledger are append-only (database triggers refuse UPDATE, DELETE and
TRUNCATE, as on the day-pass ledger): a correction is a reversing entry that points to the one it
corrects, and a prepaid balance is the sum of its contract's entries, never a stored figure.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


def _person(*, null: bool = False) -> Any:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=null, blank=null, on_delete=models.PROTECT, related_name="+"
    )


class Contract(models.Model):
    """What a customer bought, for a period: its SLA (while active, the customer's default: the
    ``contract`` step of the SLA hierarchy) and, optionally, a block of prepaid hours."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=120)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="The last day it covers (none: open-ended).")
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prepaid_hours = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The block of hours bought with the contract (none: no prepaid block).",
    )
    rollover = models.BooleanField(
        default=False, help_text="Unused hours move to the customer's next contract instead of expiring."
    )
    warn_percent = models.PositiveSmallIntegerField(
        default=20, help_text="Warn when the balance falls below this share of the last top-up."
    )
    created_by = _person()
    created_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="contracts_contract_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(warn_percent__gte=0, warn_percent__lte=100),
                name="contracts_contract_warn_percent_range",
            ),
        ]
        indexes = [models.Index(fields=["customer", "starts_on"], name="contracts_customer_start")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_prepaid(self) -> bool:
        return self.prepaid_hours is not None


class EntryKind(models.TextChoices):
    TOPUP = "topup", "Top-up"
    DRAWDOWN = "drawdown", "Drawdown"
    REVERSAL = "reversal", "Reversal"
    EXPIRY = "expiry", "Expiry"


class PrepaidEntry(models.Model):
    """One movement of a contract's prepaid block, in minutes (negative draws down). The balance
    is the sum of the entries; it may go below zero (overage: the work was done)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    minutes = models.IntegerField()
    at = models.DateTimeField()
    time_entry = models.ForeignKey(
        "contracts.TimeEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    by = _person(null=True)
    by_job = models.CharField(max_length=100, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=EntryKind.values), name="contracts_entry_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(by__isnull=False) | ~models.Q(by_job=""), name="contracts_entry_by_someone"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind=EntryKind.TOPUP, minutes__gt=0)
                    | models.Q(kind=EntryKind.DRAWDOWN, minutes__lt=0)
                    | models.Q(kind=EntryKind.REVERSAL, minutes__gt=0)
                    | models.Q(kind=EntryKind.EXPIRY, minutes__lte=0)
                ),
                name="contracts_entry_sign_by_kind",
            ),
            # One expiry per contract (the job that records it may run twice).
            models.UniqueConstraint(
                fields=["contract"], condition=models.Q(kind="expiry"), name="contracts_one_expiry"
            ),
            models.UniqueConstraint(
                fields=["time_entry"],
                condition=models.Q(time_entry__isnull=False),
                name="contracts_one_movement_per_time_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.minutes} min on contract {self.contract_id}"


class TimeEntry(models.Model):
    """Time an agent worked on a ticket of ``customer``: minutes on a work date (the agent's
    local date), billable or not. Never edited: a correction is a reversing entry (``reverses``,
    minus the minutes) dated in an open month."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField(help_text="The ticket's id inside its customer's schema.")
    agent = _person()
    minutes = models.IntegerField()
    work_date = models.DateField()
    billable = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reverses__isnull=True, minutes__gt=0)
                | models.Q(reverses__isnull=False, minutes__lt=0),
                name="contracts_time_sign",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "ticket_id"], name="contracts_time_ticket"),
            models.Index(fields=["customer", "work_date"], name="contracts_time_customer_date"),
            # The monthly figures of every customer: one month's entries, from the index alone.
            models.Index(
                fields=["work_date", "customer"], include=["minutes", "billable"], name="contracts_time_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on ticket {self.ticket_id} ({self.work_date})"


class ClosedMonth(models.Model):
    """A customer's month closed for time entries by a provider admin (``month``: its 1st)."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    closed_by = _person()
    closed_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "month"], name="contracts_month_closed_once"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="contracts_month_is_first"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} closed for customer {self.customer_id}"
