"""Canned responses live in the public schema: they belong to the provider's agents, not to one
customer (even one limited to a customer is written and owned by the provider)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class Scope(models.TextChoices):
    PERSONAL = "personal", "Personal"
    SHARED = "shared", "Shared with all agents"
    CUSTOMER = "customer", "Limited to one customer"


class SetStatus(models.TextChoices):
    """The status change a response may carry ("Send and set pending")."""

    PENDING = "pending", "Send and set pending"
    RESOLVED = "resolved", "Send and resolve"


class CannedResponse(models.Model):
    """A reply text with placeholders (``tickets.canned.services.PLACEHOLDERS``). Personal ones
    have an owner, customer-limited ones a customer, shared ones neither."""

    name = models.CharField(max_length=80)
    body = models.TextField()
    scope = models.CharField(max_length=10, choices=Scope.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_status = models.CharField(max_length=10, choices=SetStatus.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        db_table = "canned_response"
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope=Scope.PERSONAL, owner__isnull=False, customer__isnull=True)
                | models.Q(scope=Scope.SHARED, owner__isnull=True, customer__isnull=True)
                | models.Q(scope=Scope.CUSTOMER, owner__isnull=True, customer__isnull=False),
                name="canned_response_scope_matches_owner_and_customer",
            ),
            models.UniqueConstraint(
                fields=["scope", "owner", "customer", "name"],
                nulls_distinct=False,
                name="canned_response_one_name_per_scope",
            ),
        ]
        indexes = [
            models.Index(fields=["owner"], name="canned_response_owner"),
            models.Index(fields=["customer"], name="canned_response_customer"),
        ]

    def __str__(self) -> str:
        return self.name
