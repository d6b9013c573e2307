from django.apps import AppConfig


class TicketsConfig(AppConfig):
    """Tickets, comments and the unified console index (issue #3)."""

    name = "tickets"

    def ready(self) -> None:
        from notifications.hooks import ticket_preview_from
        from sla.hooks import policy_referenced_by
        from tickets.models import Ticket
        from tickets.notices import preview

        ticket_preview_from(preview)

        policy_referenced_by(Ticket, "sla_policy", "a ticket's SLA override")
        policy_referenced_by(Ticket, "sla_applied", "tickets that ran on it")
