"""Configuration items, inside each customer's own schema.

A CI has at most one parent (the physical or logical container: a VM's host, a server's rack)
and any number of typed relations to other CIs. Both stay inside the customer's schema, so a
parent or a relation across customers cannot even be expressed. The parent chain never loops:
``cmdb.services`` checks every parent change under a per-customer lock.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from audit.querysets import AuditedQuerySet

MAX_NAME = 100  # a CI's name


class CiType(models.TextChoices):
    SERVER = "server", "Server"
    WORKSTATION = "workstation", "Workstation"
    NETWORK = "network", "Network device"
    APPLICATION = "application", "Application"
    OTHER = "other", "Other"


class CiStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    MAINTENANCE = "maintenance", "In maintenance"
    RETIRED = "retired", "Retired"


class RelationKind(models.TextChoices):
    DEPENDS_ON = "depends_on", "depends on"
    RUNS_ON = "runs_on", "runs on"
    CONNECTED_TO = "connected_to", "connected to"


class ConfigurationItem(models.Model):
    name = models.CharField(max_length=MAX_NAME)
    type = models.CharField(max_length=12, choices=CiType.choices)
    status = models.CharField(max_length=12, choices=CiStatus.choices, default=CiStatus.ACTIVE)
    owner = models.ForeignKey(
        "people.CustomerUser", null=True, blank=True, on_delete=models.PROTECT, related_name="cis"
    )
    attributes = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # A public-schema row: no database constraint (see tickets.models for why).
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "configuration item"
        indexes = [
            models.Index(fields=["parent"], name="cmdb_ci_parent"),
            models.Index(fields=["type", "status"], name="cmdb_ci_type_status"),
            models.Index(fields=["owner"], name="cmdb_ci_owner"),
        ]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="cmdb_ci_name_unique"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("pk")), name="cmdb_ci_not_own_parent"),
            models.CheckConstraint(condition=models.Q(type__in=CiType.values), name="cmdb_ci_type_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=CiStatus.values), name="cmdb_ci_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status=CiStatus.RETIRED) | models.Q(retired_at__isnull=True),
                name="cmdb_ci_retired_at_only_when_retired",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_retired(self) -> bool:
        return self.status == CiStatus.RETIRED


class CiRelation(models.Model):
    """``source`` <kind> ``target``: "app-01 runs on vm-07", "vm-07 depends on san-1"."""

    source = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="relations_out")
    target = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="relations_in")
    kind = models.CharField(max_length=12, choices=RelationKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "id"]
        indexes = [models.Index(fields=["target"], name="cmdb_relation_target")]
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="cmdb_relation_unique"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="cmdb_relation_not_self"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=RelationKind.values), name="cmdb_relation_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"
