from django.apps import AppConfig


class TicketsConfig(AppConfig):
    """Tickets, comments and the unified console index (issue #3)."""

    name = "tickets"
