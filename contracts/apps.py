from django.apps import AppConfig


class ContractsConfig(AppConfig):
    """Contracts per customer, prepaid hour blocks (a ledger), time entries and closed months
    (issue #18, ``spec/reports.md``): public-schema rows, each naming its customer."""

    name = "contracts"
