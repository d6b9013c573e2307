from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Licences, day passes and billing reports (issues #6 and later)."""

    name = "billing"

    def ready(self) -> None:
        from billing import services  # noqa: F401 - registers the day-pass check of every API call
