"""Shared by management commands that visit customers one schema at a time."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Customer, CustomerQuerySet


def customers_for_command(slugs: list[str]) -> CustomerQuerySet:
    """Every customer (archived too), or those named; an unknown slug stops the command."""
    customers = Customer.objects.customers().select_related("settings").order_by("slug")
    if slugs:
        customers = customers.filter(slug__in=slugs)
        missing = set(slugs) - {c.slug for c in customers}
        if missing:
            raise CommandError(f"No customer with slug {', '.join(sorted(missing))}.")
    return customers
