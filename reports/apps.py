from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The monthly figures per customer, the service report and its issued snapshots
    (issue #18, ``spec/reports.md``)."""

    name = "reports"
