from django.apps import AppConfig


class TicketIndexConfig(AppConfig):
    """The unified console index: one public-schema row per ticket of every customer."""

    name = "tickets.index"
    label = "ticket_index"
    verbose_name = "Unified ticket index"
