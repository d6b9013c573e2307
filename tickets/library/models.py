"""The provider-wide library of request types lives in the public schema: a model form any
customer can be given. Copying one makes an independent type in the customer's schema
(``tickets.types.services.library_copy``); later edits of either leave the other alone."""

from __future__ import annotations

from typing import Any

from django.db import models

from audit.querysets import AuditedQuerySet

PRIORITIES = ["", "P1", "P2", "P3", "P4"]


class LibraryRequestType(models.Model):
    """A request type as the provider keeps it: name, description, priority preset and field
    definitions (``tickets.types.values.FieldDef`` as JSON). No SLA policy: that is chosen per
    customer once copied."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    priority = models.CharField(max_length=2, blank=True, default="")
    definitions: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        db_table = "request_type_library"
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__in=PRIORITIES), name="request_type_library_priority_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name
