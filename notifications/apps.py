from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """In-app notifications and the emails sent with them (public schema: a person's feed
    spans every customer they work with)."""

    name = "notifications"
