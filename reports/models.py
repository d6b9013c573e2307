"""What the reports keep (public schema): the figures that describe a customer's month's last
instant (assets, users), recorded when the month ends, and the issued service reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from audit.querysets import AuditedQuerySet


class MonthEnd(models.Model):
    """A customer's CIs by type (not retired) and active users at the end of a month (local
    midnight on the 1st of the next), recorded by the job ``reports.record_month_ends``."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The month's 1st.")
    assets: models.JSONField[dict[str, int]] = models.JSONField(default=dict)
    users = models.PositiveIntegerField()
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "month"], name="reports_month_end_once")]
        indexes = [models.Index(fields=["month"], name="reports_month_end_month")]

    def __str__(self) -> str:
        return f"{self.customer_id} at the end of {self.month:%Y-%m}"


class ReportSchedule(models.Model):
    """Who receives a customer's issued service report by email, and on which day of the next
    month (in the customer's zone): the latest issued version of the month before goes out once."""

    customer = models.OneToOneField("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    contacts = ArrayField(models.EmailField(max_length=254), default=list, blank=True, size=20)
    day = models.PositiveSmallIntegerField(
        default=3, help_text="Day of the month (1-28) the report goes out."
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(day__gte=1, day__lte=28), name="reports_schedule_day_range"
            ),
        ]

    def __str__(self) -> str:
        return f"report schedule of customer {self.customer_id}"


class IssuedReport(models.Model):
    """One issued version of a customer's service report for a month: the figures as issued
    (``content``, canonical JSON) and the files made from them, with the SHA-256 of the content
    (also written into the customer's audit chain). Never changed: re-issuing adds a version."""

    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    version = models.PositiveIntegerField()
    content = models.BinaryField(help_text="The report as canonical JSON (UTF-8).")
    csv = models.BinaryField()
    pdf = models.BinaryField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    differences: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month", "version"], name="reports_issued_version_once"
            ),
        ]

    def __str__(self) -> str:
        return f"report {self.month:%Y-%m} v{self.version} of customer {self.customer_id}"
