"""Schema switching, in one place. Every request, task and command that works inside a
customer's schema enters it with ``customer_schema`` and is back where it was afterwards; nothing
else calls django-tenants' ``set_tenant``/``set_schema_to_public``.

``tenant_connection`` is the database connection as django-tenants extends it, typed for mypy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.db import connection

if TYPE_CHECKING:
    from tenants.models import Customer

PUBLIC_SCHEMA = "public"


class TenantConnection(Protocol):
    schema_name: str
    tenant: Any

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


tenant_connection = cast(TenantConnection, connection)


def current_schema() -> str:
    return tenant_connection.schema_name


@contextmanager
def customer_schema(customer: Customer) -> Iterator[Customer]:
    """Run a block inside ``customer``'s schema and always return to where we were."""
    previous = getattr(tenant_connection, "tenant", None)
    tenant_connection.set_tenant(customer)
    try:
        yield customer
    finally:
        if previous is None or previous.schema_name == PUBLIC_SCHEMA:
            tenant_connection.set_schema_to_public()
        else:
            tenant_connection.set_tenant(previous)


def public_schema_restore() -> None:
    """Back to the public schema, whatever ran before (the end of a request, a task, a test)."""
    tenant_connection.set_schema_to_public()


def require_schema(customer: Customer, what: str) -> None:
    """Workflows change a customer's data only inside its schema; anything else is a bug."""
    if tenant_connection.schema_name != customer.schema_name:
        raise RuntimeError(f"{what} of {customer.slug} are changed inside its schema only")


def public_tenant() -> Customer:
    from tenants.models import Customer

    return Customer.objects.get(schema_name=PUBLIC_SCHEMA)  # type: ignore[no-any-return]
