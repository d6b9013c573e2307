from django.apps import AppConfig


class CmdbConfig(AppConfig):
    """Configuration items per customer (issue #4)."""

    name = "cmdb"
    verbose_name = "CMDB"
