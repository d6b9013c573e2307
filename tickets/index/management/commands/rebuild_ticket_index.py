"""Re-derive the unified ticket index and its search rows from every customer's schema and
report any drift.

    manage.py rebuild_ticket_index            repair: write missing and stale rows, drop orphans
    manage.py rebuild_ticket_index --check    only report; exit code 1 when anything drifted

Each customer is compared and repaired in its own transaction, so the command never holds
locks across schemas and can run while people work.
"""

from __future__ import annotations

from tenants.commands import CustomerRepairCommand
from tenants.models import Customer
from tickets.index.search import search_compare, search_repair
from tickets.index.services import Drift, index_compare, index_repair


class Command(CustomerRepairCommand):
    help = "Rebuild the unified ticket index from the customers' schemas and report drift."
    job = "tickets.rebuild_ticket_index"

    def drift_of(self, customer: Customer, *, repair: bool) -> str | None:
        drift, to_write = index_compare(customer=customer)
        found, to_search = search_compare(customer=customer)
        if not drift.any and not found.any:
            return None
        if repair:
            index_repair(customer=customer, to_write=to_write, orphaned=drift.orphaned)
            search_repair(customer=customer, to_write=to_search, orphaned=found.orphaned)
        said = [_counts(drift)] if drift.any else []
        if found.any:
            said.append(f"search rows: {_counts(found)}")
        return "; ".join(said)


def _counts(drift: Drift) -> str:
    return f"{len(drift.missing)} missing, {len(drift.stale)} stale, {len(drift.orphaned)} orphaned"
