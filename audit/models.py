"""The audit trail: django-auditlog entries extended with the channel and the job identity.

The table exists in the public schema (changes to customers, people, tokens) and in every
customer's schema (changes to that customer's data). A database constraint refuses an entry
that has neither a person nor a named job behind it: nothing anonymous writes.

Each schema's entries form one hash chain (``audit.chain``): when an entry's transaction commits,
the database seals it (an ``AuditSeal``: its sequence number, the previous entry's hash and its
own, under the lock of the schema's ``AuditHead`` row), and it refuses to update or delete an
entry, a seal or the head.
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

    def _seal(self) -> AuditSeal | None:
        try:
            return self.seal
        except AuditSeal.DoesNotExist:  # its transaction has not committed yet
            return None

    @property
    def seq(self) -> int | None:
        seal = self._seal()
        return seal.seq if seal else None

    @property
    def hash(self) -> str | None:
        seal = self._seal()
        return seal.hash if seal else None


class AuditSeal(models.Model):
    """An entry's place in its chain, written by the database when the entry's transaction
    commits (``audit.chain``): never by the application, never changed."""

    seq = models.BigIntegerField(primary_key=True)
    # No foreign key: an entry deleted round the guards leaves its seal, which names it.
    entry = models.OneToOneField(
        AuditEntry, on_delete=models.DO_NOTHING, db_constraint=False, related_name="seal"
    )
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"seal {self.seq} of entry {self.entry_id}"


class AuditHead(models.Model):
    """The newest entry of this schema's chain (one row, ``id`` 1): appending locks it, so
    concurrent writers take their turns and never fork the chain. Written by the database."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]

    def __str__(self) -> str:
        return f"head at {self.seq}"
