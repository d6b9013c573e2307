from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Asset counts per customer, type and status in the public schema (for billing reports)."""

    name = "cmdb.inventory"
    label = "cmdb_inventory"
    verbose_name = "Asset counts"
