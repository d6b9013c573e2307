from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """CSV imports of customers, customer users and CIs (issue #13)."""

    name = "imports"
