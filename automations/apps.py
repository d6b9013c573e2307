from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    """Automation rules: on a ticket's creation, update, a customer's reply or after a while in
    a status, when its fields match, act on it (set fields, assign, note, notify, close)."""

    name = "automations"

    def ready(self) -> None:
        from automations.engine import on_fields_change, on_ticket_event
        from tickets.hooks import after_fields_change, after_ticket_event

        after_ticket_event(on_ticket_event)
        after_fields_change(on_fields_change)
