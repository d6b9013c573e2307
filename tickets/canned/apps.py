from django.apps import AppConfig


class CannedConfig(AppConfig):
    """Canned responses: reply texts with placeholders, personal, shared or for one customer."""

    name = "tickets.canned"
    label = "canned"
    verbose_name = "Canned responses"
