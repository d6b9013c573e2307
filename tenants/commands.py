"""Shared by management commands that visit customers one schema at a time."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.context import job_context
from tenants.models import Customer, CustomerQuerySet
from tenants.schema import customer_schema


def customers_for_command(slugs: list[str]) -> CustomerQuerySet:
    """Every customer (archived too), or those named; an unknown slug stops the command."""
    customers = Customer.objects.customers().select_related("settings").order_by("slug")
    if slugs:
        customers = customers.filter(slug__in=slugs)
        missing = set(slugs) - {c.slug for c in customers}
        if missing:
            raise CommandError(f"No customer with slug {', '.join(sorted(missing))}.")
    return customers


class CustomerRepairCommand(BaseCommand):
    """Compare something derived from the customers' schemas with what is stored and repair it:
    ``--check`` only reports (exit code 1 on drift); ``--customer`` limits it to some slugs.
    Each customer is handled in its own transaction inside its schema, as the job ``job``."""

    job: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Report drift only; change nothing.")
        parser.add_argument("--customer", action="append", default=[], help="Only this slug (repeatable).")

    def drift_of(self, customer: Customer, *, repair: bool) -> str | None:
        """What drifted at ``customer`` (None if nothing), repaired when ``repair``."""
        raise NotImplementedError

    def handle(self, *args: Any, check: bool, customer: list[str], **options: Any) -> None:
        customers = customers_for_command(customer)
        drifted = 0
        with job_context(self.job):
            for each in customers:
                with transaction.atomic(), customer_schema(each):
                    drift = self.drift_of(each, repair=not check)
                if drift:
                    drifted += 1
                    self.stdout.write(f"{each.slug}: {drift}" + ("" if check else " (repaired)"))
        self.stdout.write(
            f"{customers.count()} customers checked, {drifted} with drift{'' if check else ' repaired'}."
        )
        if check and drifted:
            raise SystemExit(1)
