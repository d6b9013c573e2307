"""Re-derive the unified ticket index from every customer's schema and report any drift.

    manage.py rebuild_ticket_index            repair: write missing and stale rows, drop orphans
    manage.py rebuild_ticket_index --check    only report; exit code 1 when anything drifted

Each customer is compared and repaired in its own transaction, so the command never holds
locks across schemas and can run while people work.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from audit.context import job_context
from serviflow.commands import customers_for_command
from tenants.schema import customer_schema
from tickets.index.services import index_compare, index_repair


class Command(BaseCommand):
    help = "Rebuild the unified ticket index from the customers' schemas and report drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Report drift only; change nothing.")
        parser.add_argument("--customer", action="append", default=[], help="Only this slug (repeatable).")

    def handle(self, *args: Any, check: bool, customer: list[str], **options: Any) -> None:
        customers = customers_for_command(customer)
        drifted = 0
        with job_context("tickets.rebuild_ticket_index"):
            for each in customers:
                with transaction.atomic(), customer_schema(each):
                    drift, to_write = index_compare(customer=each)
                    if drift.any and not check:
                        index_repair(customer=each, to_write=to_write, orphaned=drift.orphaned)
                if drift.any:
                    drifted += 1
                    self.stdout.write(
                        f"{each.slug}: {len(drift.missing)} missing, {len(drift.stale)} stale, "
                        f"{len(drift.orphaned)} orphaned" + ("" if check else " (repaired)")
                    )
        total = customers.count()
        self.stdout.write(f"{total} customers checked, {drifted} with drift{'' if check else ' repaired'}.")
        if check and drifted:
            raise SystemExit(1)
