from django.apps import AppConfig


class SatisfactionConfig(AppConfig):
    """Satisfaction surveys (CSAT): a resolved ticket's requester rates it good, okay or bad."""

    name = "tickets.satisfaction"
    label = "satisfaction"
    verbose_name = "Satisfaction surveys"
