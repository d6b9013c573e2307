"""Re-count every customer's CIs and compare with the maintained asset counts.

    manage.py rebuild_asset_counts            repair the counts that drifted
    manage.py rebuild_asset_counts --check    only report; exit code 1 when anything drifted

One transaction per customer, so it never holds locks across schemas.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count

from cmdb.inventory.services import Key, counts_compare, counts_repair
from cmdb.models import ConfigurationItem
from tenants.commands import CustomerRepairCommand
from tenants.models import Customer


class Command(CustomerRepairCommand):
    help = "Re-count the customers' CIs by type and status and repair the asset counts."
    job = "cmdb.rebuild_asset_counts"

    def drift_of(self, customer: Customer, *, repair: bool) -> str | None:
        rows = ConfigurationItem.objects.order_by().values_list("type", "status").annotate(n=Count("id"))
        actual: Counter[Key] = Counter({(t, s): n for t, s, n in rows})
        drift = counts_compare(customer=customer, actual=actual)
        if not drift:
            return None
        if repair:
            counts_repair(customer=customer, actual=actual)
        return ", ".join(f"{t}/{s} {old}→{new}" for (t, s), (old, new) in sorted(drift.items()))
