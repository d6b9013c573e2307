"""Customer users' profiles, inside each customer's own schema.

The login identity (email, password, role) is ``accounts.User`` in the public schema; the
profile carries what belongs to the customer: its own id sequence (so ids are per customer),
the user's SLA override and contact details.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class CustomerUser(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_constraint=True
    )
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"profile {self.pk} of user {self.user_id}"
