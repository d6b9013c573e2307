"""The email channel's records, in the public schema: every message received, stored raw before
anything else happens (``mail.store``), what became of it and why (``trace``); the Message-IDs
of what we sent (thread headers name them); the addresses pinned to customers; IMAP mailboxes.

A routed message names its customer and the ticket it made or answered; nothing of it is shown
to anyone who may not see that customer (``mail.selectors``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class Source(models.TextChoices):
    SMTP = "smtp", "SMTP listener"
    LMTP = "lmtp", "LMTP listener"
    IMAP = "imap", "IMAP mailbox"


class State(models.TextChoices):
    RECEIVED = "received", "Received, not parsed yet"
    TICKET = "ticket", "Opened a ticket"
    COMMENT = "comment", "Added to a ticket"
    TRIAGE = "triage", "Waiting in triage"
    IGNORED = "ignored", "Recorded, no ticket (auto-reply, bounce, list or loop)"
    DISCARDED = "discarded", "Discarded from triage"


class InboundMessage(models.Model):
    raw = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    # The Message-ID as sent, without its angle brackets ("" when the mail had none).
    message_id = models.CharField(max_length=998, blank=True)
    envelope_from = models.CharField(max_length=998, blank=True)
    envelope_to: models.JSONField[list[str]] = models.JSONField(default=list)
    source = models.CharField(max_length=10, choices=Source.choices)
    mailbox = models.ForeignKey(
        "mail.Mailbox", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What parsing read (empty until then).
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    too_large = models.BooleanField(default=False)
    flood = models.BooleanField(default=False)
    # Where it went and why: one short reason, and every rule with what it checked.
    reason = models.CharField(max_length=300, blank=True)
    trace: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticket_id = models.BigIntegerField(null=True, blank=True)
    comment_id = models.BigIntegerField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # The same message delivered or fetched again is the same row (no Message-ID: the
            # content alone).
            models.UniqueConstraint(fields=["message_id", "sha256"], name="mail_message_once"),
            models.CheckConstraint(
                condition=models.Q(state__in=State.values), name="mail_message_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "received_at"], name="mail_message_state"),
            models.Index(fields=["from_address", "received_at"], name="mail_message_sender"),
            models.Index(fields=["customer", "ticket_id"], name="mail_message_ticket"),
        ]

    def __str__(self) -> str:
        return f"mail {self.pk} from {self.from_address or self.envelope_from or 'unknown'}"


class OutboundMessage(models.Model):
    """A Message-ID we sent for a ticket: a reply's In-Reply-To or References naming it finds
    the ticket (rule 2 of email.md)."""

    message_id = models.CharField(max_length=998, unique=True)
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "ticket_id", "created_at"], name="mail_outbound_ticket")]

    def __str__(self) -> str:
        return self.message_id


class InboundAddress(models.Model):
    """An address we receive on besides ``<slug>@INBOUND_DOMAIN``: pinned to a customer, or the
    provider's shared address (customer None). Stored in lower case."""

    address = models.CharField(max_length=320, unique=True)
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class MailSettings(models.Model):
    """A customer's email settings (defaults when the row does not exist)."""

    customer = models.OneToOneField(
        "tenants.Customer", primary_key=True, on_delete=models.CASCADE, related_name="mail_settings"
    )
    accept_new_senders = models.BooleanField(
        default=False, help_text="Mail from a new sender in one of the customer's domains makes them a user."
    )
    accept_list_mail = models.BooleanField(default=False, help_text="Take mail that carries a List-Id.")
    # A request type of the customer's own schema (ids are per schema: no database constraint),
    # given to every ticket the email channel opens for it (``mail.processing``).
    default_request_type = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The request type of tickets opened by email (its id in the customer).",
    )

    objects = AuditedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"mail settings of {self.customer_id}"


class Mailbox(models.Model):
    """An IMAP mailbox the beat job polls (``mail.imap``); the password is encrypted at rest."""

    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=993)
    use_ssl = models.BooleanField(default=True)
    username = models.CharField(max_length=320)
    password_encrypted = models.TextField()
    folder = models.CharField(max_length=200, default="INBOX")
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_poll = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["host", "username"]

    def __str__(self) -> str:
        return f"{self.username}@{self.host}/{self.folder}"
