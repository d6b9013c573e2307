"""Keeping ``AssetCount`` in step with the CIs, and reading it across customers."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction

from cmdb.inventory.models import AssetCount
from tenants.models import Customer

Key = tuple[str, str]  # (type, status)
logger = logging.getLogger(__name__)


_TABLE = "public.cmdb_asset_count"
_ADD = (
    f"INSERT INTO {_TABLE} (customer_id, type, status, count) VALUES (%s, %s, %s, %s) "  # noqa: S608
    f"ON CONFLICT (customer_id, type, status) DO UPDATE SET count = {_TABLE}.count + EXCLUDED.count"
)
# Decrements are an UPDATE, not an upsert: an INSERT's proposed row would already fail count >= 0.
_SUBTRACT = f"UPDATE {_TABLE} SET count = count + %s WHERE customer_id = %s AND type = %s AND status = %s"  # noqa: S608


def counts_shift(*, customer: Customer, delta: Counter[Key]) -> None:
    """Add ``delta`` to the customer's counts, inside the caller's transaction (one statement
    per changed key; concurrent changes queue on the counter row)."""
    with connection.cursor() as cursor:
        for (ci_type, status), n in delta.items():
            if n > 0:
                cursor.execute(_ADD, [customer.pk, ci_type, status, n])
            elif n < 0:
                cursor.execute(_SUBTRACT, [n, customer.pk, ci_type, status])
                if cursor.rowcount != 1:
                    logger.warning(
                        "%s has no %s/%s asset count; run rebuild_asset_counts",
                        customer.slug,
                        ci_type,
                        status,
                    )


def counts_of(customers: Iterable[Customer]) -> dict[int, dict[Key, int]]:
    """Customer id -> {(type, status): count} for reports (one query over the public table)."""
    result: dict[int, dict[Key, int]] = {customer.pk: {} for customer in customers}
    rows = AssetCount.objects.filter(customer__in=list(result), count__gt=0)
    for row in rows.values_list("customer_id", "type", "status", "count"):
        result[row[0]][(row[1], row[2])] = row[3]
    return result


def counts_compare(*, customer: Customer, actual: Counter[Key]) -> dict[Key, tuple[int, int]]:
    """Keys whose stored count differs from ``actual``: key -> (stored, actual)."""
    stored = counts_of([customer])[customer.pk]
    return {
        key: (stored.get(key, 0), actual.get(key, 0))
        for key in set(stored) | set(actual)
        if stored.get(key, 0) != actual.get(key, 0)
    }


def counts_repair(*, customer: Customer, actual: Counter[Key]) -> None:
    with transaction.atomic():
        AssetCount.objects.filter(customer=customer).delete()
        AssetCount.objects.bulk_create(
            AssetCount(customer=customer, type=key[0], status=key[1], count=n)
            for key, n in actual.items()
            if n
        )
