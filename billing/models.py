"""The day-pass ledger and the licence bookkeeping (public schema).

Every purchase, consumption and expiry is a row that is never changed or deleted (database
triggers refuse it). The pool's balance is kept by triggers on the ledger, in the same
transaction as each entry, and a CHECK constraint keeps it at or above zero: a consumption that
would overdraw the pool fails as a whole. ``billing.services.ledger_balance`` recomputes it from
the entries (the consistency check compares both).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class Channel(models.TextChoices):
    CONSOLE = "console", "Console"
    API = "api", "API"


class DayPassPool(models.Model):
    """The provider's one pool (a single row, id 1), maintained by the ledger's triggers."""

    balance = models.IntegerField(default=0)
    purchased = models.IntegerField(default=0)
    consumed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="billing_pool_balance_not_negative"
            ),
            models.CheckConstraint(condition=models.Q(pk=1), name="billing_pool_single_row"),
        ]

    def __str__(self) -> str:
        return f"{self.balance} day passes"


class DayPassPurchase(models.Model):
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    bought_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    bought_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-bought_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=10000),
                name="billing_purchase_quantity_range",
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("quantity") * models.F("unit_price")),
                name="billing_purchase_total_is_quantity_times_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} day passes at {self.unit_price}"


class DayPassConsumption(models.Model):
    """One day pass used by one agent for one local date (the date in the agent's time zone at
    consumption); valid from ``consumed_at`` until ``valid_until``, the next local midnight."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="day_passes")
    local_date = models.DateField()
    timezone = models.CharField(max_length=64, help_text="The agent's time zone at consumption.")
    consumed_at = models.DateTimeField()
    valid_until = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-consumed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "local_date"], name="billing_one_pass_per_agent_and_date"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("consumed_at")),
                name="billing_pass_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "-valid_until"], name="billing_pass_agent_valid"),
            models.Index(fields=["valid_until"], name="billing_pass_valid_until"),
            models.Index(fields=["local_date"], name="billing_pass_local_date"),
        ]

    def __str__(self) -> str:
        return f"day pass of {self.agent_id} for {self.local_date}"


class DayPassExpiry(models.Model):
    """The ledger's record that a pass ended (written by the expiry job at or after its
    ``valid_until``; access never waits for it)."""

    consumption = models.OneToOneField(DayPassConsumption, on_delete=models.PROTECT, related_name="expiry")
    expired_at = models.DateTimeField(help_text="The pass's end (its valid_until).")
    recorded_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-expired_at", "-id"]

    def __str__(self) -> str:
        return f"expiry of {self.consumption_id}"


class AgentActivityDay(models.Model):
    """A local date on which a full-time agent used the console or the API (for the licence
    report's "logged in on few days"); bookkeeping written once per agent and day."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "local_date"], name="billing_activity_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} active on {self.local_date}"
