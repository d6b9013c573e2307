"""Keeping ``AssetCount`` in step with the CIs, and reading it across customers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import connection, transaction

from cmdb.inventory.models import AssetCount
from tenants.models import Customer

Key = tuple[str, str]  # (type, status)


def counts_shift(*, customer: Customer, delta: Counter[Key]) -> None:
    """Add ``delta`` to the customer's counts, inside the caller's transaction (one upsert per
    changed key; concurrent changes queue on the counter row)."""
    table = connection.ops.quote_name(AssetCount._meta.db_table)
    changes = [(key, n) for key, n in delta.items() if n]
    if not changes:
        return
    with connection.cursor() as cursor:
        for (ci_type, status), n in changes:
            cursor.execute(
                f"""
                INSERT INTO public.{table} (customer_id, type, status, count) VALUES (%s, %s, %s, %s)
                ON CONFLICT (customer_id, type, status)
                DO UPDATE SET count = public.{table}.count + EXCLUDED.count
                """,  # noqa: S608 (our own quoted table name)
                [customer.pk, ci_type, status, n],
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
