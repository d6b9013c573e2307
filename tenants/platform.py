"""The two special tenants: ``public`` (the console) and the provisioning template."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from psycopg import sql

from tenants.hosts import forget_hosts
from tenants.models import Customer, CustomerKind, Domain
from tenants.roles import owner_functions_install


def ensure_public_tenant(*, provider_name: str | None = None) -> Customer:
    public, _created = Customer.objects.get_or_create(
        schema_name="public",
        defaults={"name": provider_name or "ServiFlow", "slug": "public", "kind": CustomerKind.PUBLIC},
    )
    if provider_name and public.name != provider_name:
        public.name = provider_name
        public.save(update_fields=["name"])
    Domain.objects.update_or_create(tenant=public, is_primary=True, defaults={"domain": settings.BASE_DOMAIN})
    return public  # type: ignore[no-any-return]


def ensure_template_tenant(*, verbosity: int = 0) -> Customer:
    """The template is a registered tenant, so ``migrate_schemas`` keeps it current; it is the
    only schema whose migrations are ever replayed from scratch. The functions the application
    role provisions through are generated from it afterwards (``tenants.roles``)."""
    schema = settings.TENANT_TEMPLATE_SCHEMA
    template = Customer.objects.filter(schema_name=schema).first()
    if template is None:
        with transaction.atomic():
            template = Customer.objects.create(
                schema_name=schema,
                name="Provisioning template",
                slug="template",
                kind=CustomerKind.TEMPLATE,
                is_active=False,
            )
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity)
    owner_functions_install()
    return template


def sync_customer_domains() -> int:
    """Keep every customer's primary domain at <slug>.BASE_DOMAIN (BASE_DOMAIN may change)."""
    changed = 0
    for customer in Customer.objects.customers().prefetch_related("domains"):
        for domain in customer.domains.all():
            if domain.is_primary and domain.domain != customer.portal_host:
                domain.domain = customer.portal_host
                domain.save(update_fields=["domain"])
                changed += 1
    if changed:
        forget_hosts()
    return changed
