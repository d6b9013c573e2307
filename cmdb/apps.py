from django.apps import AppConfig


class CmdbConfig(AppConfig):
    """Configuration items per customer (issue #4)."""

    name = "cmdb"
    verbose_name = "CMDB"

    def ready(self) -> None:
        from cmdb.models import ConfigurationItem
        from sla.hooks import policy_referenced_by

        policy_referenced_by(ConfigurationItem, "sla_policy", "a configuration item")
