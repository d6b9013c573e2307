"""The audit trail: django-auditlog entries extended with the channel and the job identity.

The table exists in the public schema (changes to customers, people, tokens) and in every
customer's schema (changes to that customer's data). A database constraint refuses an entry
that has neither a person nor a named job behind it: nothing anonymous writes.
"""

from __future__ import annotations

from auditlog.models import AbstractLogEntry
from django.db import models


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    SYSTEM = "system", "System job"
    EMAIL = "email", "Email"


class AuditEntry(AbstractLogEntry):
    channel = models.CharField(max_length=10, choices=Channel.choices)
    job = models.CharField(max_length=100, blank=True, default="")

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor__isnull=False) | ~models.Q(job=""),
                name="audit_entry_has_actor_or_job",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["web", "api", "system", "email"]),
                name="audit_entry_channel_valid",
            ),
        ]
