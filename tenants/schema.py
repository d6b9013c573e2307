"""Switching the database connection between the public schema and a customer's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from serviflow.db import tenant_connection
from tenants.models import Customer


@contextmanager
def customer_schema(customer: Customer) -> Iterator[Customer]:
    """Run a block inside ``customer``'s schema and always return to where we were."""
    previous = getattr(tenant_connection, "tenant", None)
    tenant_connection.set_tenant(customer)
    try:
        yield customer
    finally:
        if previous is None or previous.schema_name == "public":
            tenant_connection.set_schema_to_public()
        else:
            tenant_connection.set_tenant(previous)


def require_schema(customer: Customer, what: str) -> None:
    """Workflows change a customer's data only inside its schema; anything else is a bug."""
    if tenant_connection.schema_name != customer.schema_name:
        raise RuntimeError(f"{what} of {customer.slug} are changed inside its schema only")


def public_tenant() -> Customer:
    return Customer.objects.get(schema_name="public")  # type: ignore[no-any-return]
