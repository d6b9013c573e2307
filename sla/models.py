"""SLA policies and business-hours profiles (public schema, shared by all customers).

This is the part the customer and user records point at; the calendar arithmetic, clocks
and timers arrive with the SLA engine (issue #5).
"""

from __future__ import annotations

from django.db import models


class BusinessHours(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    schedule = models.JSONField(default=dict, help_text='{"mon": [["09:00", "17:00"]], ...}')
    holidays = models.JSONField(default=list, help_text='["2026-12-25", ...]')

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    targets = models.JSONField(default=dict)
    warning_percent = models.PositiveSmallIntegerField(default=80)
    is_default = models.BooleanField(default=False)

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
