"""Re-count every customer's CIs and compare with the maintained asset counts.

    manage.py rebuild_asset_counts            repair the counts that drifted
    manage.py rebuild_asset_counts --check    only report; exit code 1 when anything drifted

One transaction per customer, so it never holds locks across schemas.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Count

from cmdb.inventory.services import Key, counts_compare, counts_repair
from cmdb.models import ConfigurationItem
from serviflow.commands import customers_for_command
from tenants.schema import customer_schema


class Command(BaseCommand):
    help = "Re-count the customers' CIs by type and status and repair the asset counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Report drift only; change nothing.")
        parser.add_argument("--customer", action="append", default=[], help="Only this slug (repeatable).")

    def handle(self, *args: Any, check: bool, customer: list[str], **options: Any) -> None:
        customers = customers_for_command(customer)
        drifted = 0
        for each in customers:
            with transaction.atomic(), customer_schema(each):
                rows = (
                    ConfigurationItem.objects.order_by().values_list("type", "status").annotate(n=Count("id"))
                )
                actual: Counter[Key] = Counter({(t, s): n for t, s, n in rows})
                drift = counts_compare(customer=each, actual=actual)
                if drift and not check:
                    counts_repair(customer=each, actual=actual)
            if drift:
                drifted += 1
                shown = ", ".join(f"{t}/{s} {old}→{new}" for (t, s), (old, new) in sorted(drift.items()))
                self.stdout.write(f"{each.slug}: {shown}" + ("" if check else " (repaired)"))
        self.stdout.write(f"{customers.count()} customers checked, {drifted} with drift.")
        if check and drifted:
            raise SystemExit(1)
