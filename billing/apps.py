from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Licences, day passes and billing reports (issues #6 and later)."""

    name = "billing"
