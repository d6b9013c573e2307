"""How many CIs each customer has, by type and status, maintained by the CMDB workflows in the
same transaction as the change. Reports across a thousand customers read this one table
instead of visiting every schema."""

from __future__ import annotations

from django.db import models


class AssetCount(models.Model):
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=12)
    status = models.CharField(max_length=12)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "cmdb_asset_count"
        constraints = [
            models.UniqueConstraint(fields=["customer", "type", "status"], name="cmdb_asset_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.type}/{self.status}: {self.count}"
