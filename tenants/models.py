"""Customers (one PostgreSQL schema each), their portal domains and their settings.

Three kinds of rows share the table: the ``public`` tenant (the provider's console, named after
the provider), the ``template`` tenant (a migrated schema that new customers are cloned from)
and the customers themselves. Only customers are ever shown to people.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django_tenants.models import DomainMixin, TenantMixin

from audit.querysets import AuditedQuerySet


class CustomerKind(models.TextChoices):
    PUBLIC = "public", "Provider console"
    TEMPLATE = "template", "Provisioning template"
    CUSTOMER = "customer", "Customer"


class CustomerQuerySet(AuditedQuerySet["Customer"]):
    def customers(self) -> CustomerQuerySet:
        return self.filter(kind=CustomerKind.CUSTOMER)

    def active(self) -> CustomerQuerySet:
        return self.customers().filter(is_active=True)


class Customer(TenantMixin):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=10, choices=CustomerKind.choices, default=CustomerKind.CUSTOMER)
    timezone = models.CharField(max_length=64, default="UTC")
    default_sla = models.ForeignKey(
        "sla.SlaPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    business_hours = models.ForeignKey(
        "sla.BusinessHours", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    # Schemas are created by tenants.services.customer_provision (cloning the template) and are
    # never dropped: archiving keeps every row.
    auto_create_schema = False
    auto_drop_schema = False

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(kind__in=["public", "template"]),
                name="tenants_one_public_and_one_template",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_customer(self) -> bool:
        return self.kind == CustomerKind.CUSTOMER

    @property
    def portal_host(self) -> str:
        return f"{self.slug}.{settings.BASE_DOMAIN}"

    @property
    def portal_url(self) -> str:
        from core.links import portal_link

        return portal_link(self.portal_host, "home")


class Domain(DomainMixin):
    pass

    objects = AuditedQuerySet.as_manager()


class EmailDomain(models.Model):
    """A mail domain the customer's people write from (``acme.com``): mail from it is the
    customer's. A domain belongs to one customer at most; stored in lower case."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="email_domains")
    domain = models.CharField(max_length=253, unique=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")), name="tenants_email_domain_lower"
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class CustomerSettings(models.Model):
    """Per-customer settings, created in the same transaction as the schema and the domain."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.PROTECT, related_name="settings"
    )
    ticket_prefix = models.CharField(
        max_length=10, help_text="Prefix of ticket numbers, e.g. ACME for ACME-1042"
    )
    attachment_max_mb = models.PositiveSmallIntegerField(default=10)
    satisfaction_surveys = models.BooleanField(
        default=True, help_text="Ask requesters to rate their resolved tickets (tickets.satisfaction)."
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "customer settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ticket_prefix__regex=r"^[A-Z][A-Z0-9]{1,9}$"),
                name="tenants_ticket_prefix_format",
            ),
        ]

    def __str__(self) -> str:
        return f"Settings of {self.customer}"
