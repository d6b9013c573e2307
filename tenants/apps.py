from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Customers (tenants)"

    def ready(self) -> None:
        from tenants import jobs  # noqa: F401 - every task ends on the public schema (back_to_public)
