"""Customer workflows: provision, update, archive, restore."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.changes import UNSET, Changes
from core.parsers import validate_timezone
from core.statistics import analyze_after_commit
from tenants.cloning import clone_schema
from tenants.hosts import forget_hosts
from tenants.models import Customer, CustomerKind, CustomerSettings, Domain, EmailDomain
from tenants.validators import email_domains as checked_email_domains
from tenants.validators import portal_domains as checked_portal_domains
from tenants.validators import schema_name_for, ticket_prefix_for, validate_slug

if TYPE_CHECKING:
    from sla.models import BusinessHours, SlaPolicy


def customer_provision(
    *,
    name: str,
    slug: str,
    timezone_name: str = "UTC",
    default_sla: SlaPolicy | None = None,
    business_hours: BusinessHours | None = None,
    ticket_prefix: str | None = None,
    email_domains: list[str] | tuple[str, ...] = (),
) -> Customer:
    """Create a customer: its row, its schema (cloned from the template), its portal domain, its
    settings and its mail domains, all in one transaction. Either all of them exist afterwards or
    none does."""
    slug = slug.strip()
    domains = customer_provision_check(
        name=name, slug=slug, timezone_name=timezone_name, email_domains=email_domains
    )
    try:
        with transaction.atomic():
            customer = Customer(
                name=name.strip(),
                slug=slug,
                schema_name=schema_name_for(slug),
                kind=CustomerKind.CUSTOMER,
                timezone=timezone_name,
                default_sla=default_sla,
                business_hours=business_hours,
            )
            customer.save()
            clone_schema(target=customer.schema_name)
            Domain.objects.create(domain=customer.portal_host, tenant=customer, is_primary=True)
            _create_settings(customer, ticket_prefix or ticket_prefix_for(slug))
            for domain in domains:  # one by one: each is audited
                EmailDomain.objects.create(customer=customer, domain=domain)
    except IntegrityError as exc:
        # Lost a race with a concurrent provisioning of the same slug (or mail domain).
        if EmailDomain.objects.filter(domain__in=domains).exists():
            raise ValidationError(
                {"email_domains": ["A mail domain was just taken by another customer."]}
            ) from exc
        raise ValidationError({"slug": [f"A customer with slug '{slug}' already exists."]}) from exc
    analyze_after_commit(Customer, CustomerSettings)
    return customer


def customer_provision_check(
    *, name: str, slug: str, timezone_name: str, email_domains: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """What ``customer_provision`` checks before it writes anything (also the wizard's first
    step): every refusal at once, keyed by field. Returns the mail domains as they are stored."""
    slug = slug.strip()
    errors: dict[str, list[str]] = {}
    for field, check, value in (
        ("slug", validate_slug, slug),
        ("timezone", validate_timezone, timezone_name),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if not name.strip():
        errors["name"] = ["A customer needs a name."]
    if "slug" not in errors and Customer.objects.filter(slug=slug).exists():
        errors["slug"] = [f"A customer with slug '{slug}' already exists."]
    domains: list[str] = []
    try:
        domains = _free_email_domains(email_domains, customer=None)
    except ValidationError as exc:
        errors["email_domains"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return domains


def _free_email_domains(values: list[str] | tuple[str, ...], *, customer: Customer | None) -> list[str]:
    """The mail domains checked (``tenants.validators.email_domains``) and not another
    customer's; ValidationError naming the first taken one otherwise."""
    domains = checked_email_domains(values)
    taken = EmailDomain.objects.filter(domain__in=domains).exclude(customer=customer).first()
    if taken is not None:
        raise ValidationError(f"{taken.domain} is already a mail domain of another customer.")
    return domains


def customer_email_domains(customer: Customer) -> list[str]:
    return [row.domain for row in customer.email_domains.all()]


def _free_portal_domains(values: list[str], *, customer: Customer) -> list[str]:
    """The extra portal host names checked (``tenants.validators.portal_domains``) and not
    another customer's; ValidationError naming the first taken one otherwise."""
    domains = checked_portal_domains(values, base_domain=settings.BASE_DOMAIN)
    taken = Domain.objects.filter(domain__in=domains).exclude(tenant=customer).first()
    if taken is not None:
        raise ValidationError(f"{taken.domain} is already the portal of another customer.")
    return domains


def customer_portal_domains(customer: Customer) -> list[str]:
    """The portal's extra host names (the primary ``<slug>.BASE_DOMAIN`` left out)."""
    return list(
        Domain.objects.filter(tenant=customer, is_primary=False)
        .order_by("domain")
        .values_list("domain", flat=True)
    )


def _settings_write(customer: Customer, **values: object) -> None:
    """Change settings that differ (saved, so audited)."""
    current = CustomerSettings.objects.select_for_update().get(customer=customer)
    changed = [name for name, value in values.items() if getattr(current, name) != value]
    for name in changed:
        setattr(current, name, values[name])
    if changed:
        current.save(update_fields=changed)
    customer.settings = current  # what the caller's customer reads from now on


def _create_settings(customer: Customer, ticket_prefix: str) -> CustomerSettings:
    return CustomerSettings.objects.create(customer=customer, ticket_prefix=ticket_prefix)


@dataclass(frozen=True)
class CustomerChanges(Changes):
    """A partial update of a customer (``core.changes``): fields left UNSET are not touched."""

    name: str = UNSET
    timezone: str = UNSET
    default_sla: SlaPolicy | None = UNSET
    business_hours: BusinessHours | None = UNSET
    email_domains: list[str] = UNSET
    portal_domains: list[str] = UNSET  # extra host names of the portal, besides the primary one
    satisfaction_surveys: bool = UNSET  # a setting (CustomerSettings)


def customer_update(*, customer: Customer, changes: CustomerChanges) -> Customer:
    """Change what is given, after checking all of it: a refusal writes nothing."""
    wanted = changes.given()
    domains = wanted.pop("email_domains", None)
    hosts = wanted.pop("portal_domains", None)
    surveys = wanted.pop("satisfaction_surveys", None)
    errors: dict[str, list[str]] = {}
    if "name" in wanted:
        wanted["name"] = wanted["name"].strip()
        if not wanted["name"]:
            errors["name"] = ["A customer needs a name."]
    if "timezone" in wanted:
        try:
            validate_timezone(wanted["timezone"])
        except ValidationError as exc:
            errors["timezone"] = exc.messages
    if domains is not None:
        try:
            domains = _free_email_domains(domains, customer=customer)
        except ValidationError as exc:
            errors["email_domains"] = exc.messages
    if hosts is not None:
        try:
            hosts = _free_portal_domains(hosts, customer=customer)
        except ValidationError as exc:
            errors["portal_domains"] = exc.messages
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            _customer_write(customer, wanted, domains, hosts)
            if surveys is not None:
                _settings_write(customer, satisfaction_surveys=surveys)
    except IntegrityError as exc:  # lost a race for a mail domain or a host name
        field = "email_domains" if domains is not None else "portal_domains"
        raise ValidationError({field: ["A domain was just taken by another customer."]}) from exc
    return customer


def _customer_write(
    customer: Customer, wanted: dict[str, object], domains: list[str] | None, hosts: list[str] | None
) -> None:
    """Write a checked change: the fields, then the mail domains and host names one by one
    (each is audited)."""
    for field, value in wanted.items():
        setattr(customer, field, value)
    if wanted:
        customer.save(update_fields=list(wanted))
        _hosts_changed()
    if domains is not None:
        for gone in customer.email_domains.exclude(domain__in=domains):  # one by one: audited
            gone.delete()
        known = set(customer_email_domains(customer))
        for domain in domains:
            if domain not in known:
                EmailDomain.objects.create(customer=customer, domain=domain)
    if hosts is not None:
        extra = Domain.objects.filter(tenant=customer, is_primary=False)
        for gone in extra.exclude(domain__in=hosts):  # one by one, as the mail domains
            gone.delete()
        present = set(extra.values_list("domain", flat=True))
        for host in hosts:
            if host not in present:
                Domain.objects.create(domain=host, tenant=customer, is_primary=False)
        _hosts_changed()


def _hosts_changed() -> None:
    """What a host resolves to changed: drop this process's cache now and again after commit
    (a request in between could cache the old row)."""
    forget_hosts()
    transaction.on_commit(forget_hosts)


def customer_archive(*, customer: Customer) -> Customer:
    """Archive: the portal closes and the customer leaves lists; no row or schema is dropped."""
    if customer.is_active:
        customer.is_active = False
        customer.archived_at = timezone.now()
        customer.save(update_fields=["is_active", "archived_at"])
        _hosts_changed()
        analyze_after_commit(Customer)
    return customer


def customer_restore(*, customer: Customer) -> Customer:
    if not customer.is_active:
        customer.is_active = True
        customer.archived_at = None
        customer.save(update_fields=["is_active", "archived_at"])
        _hosts_changed()
        analyze_after_commit(Customer)
    return customer
