"""Imports (public schema): one row per uploaded CSV file and run, with the file itself (so a
failed run can be retried), its hash, the counts and the per-row report.

While a run works, its worker publishes ``processed`` and ``heartbeat_at`` from a connection of
its own (``imports.progress``): the run's own transaction hides everything else until it
commits. A run whose heartbeat stopped (the worker was killed) is failed and may be retried.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", "Customers"
    USERS = "users", "Customer users"
    CIS = "cis", "Configuration items"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Outcome(models.TextChoices):
    CREATE = "create", "create"
    UPDATE = "update", "update"
    UNCHANGED = "unchanged", "unchanged"
    REFUSED = "refused", "refused"


class Import(models.Model):
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    dry_run = models.BooleanField(default=False)
    send_invites = models.BooleanField(default=False)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content = models.BinaryField()
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    # [{"row", "field", "message", "outcome"}], one entry per data row (and per refusal).
    report = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10, default="api")  # audit.models.Channel of the upload
    attempt = models.PositiveIntegerField(default=1)  # a retry is the next attempt
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ImportKind.values), name="imports_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="imports_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(processed__lte=models.F("total")), name="imports_processed_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.kind} ({self.file_name})"
