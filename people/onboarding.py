"""A new customer in one go (the console's new-customer wizard): its business hours and default
SLA policy (existing ones, or new ones made here), the customer itself (``customer_provision``)
and its first users, in one transaction. Either all of it exists afterwards or none of it does,
and a refusal names the part at fault.

Each part goes through the workflow that owns it (``sla.services``, ``tenants.services``,
``people.services``), so the wizard keeps every rule the API keeps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from people.services import CustomerUserFields, customer_user_create
from sla import services as sla_services
from sla.models import BusinessHours, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision


@dataclass(frozen=True)
class NewProfile:
    """Business hours made for the customer, optionally filled with a country's public holidays."""

    name: str
    timezone: str
    schedule: Mapping[str, Any]
    holidays: Sequence[str] = ()
    holiday_country: str = ""  # "" for none
    holiday_subdivision: str = ""
    holiday_years: range = range(0)


@dataclass(frozen=True)
class NewPolicy:
    """An SLA policy made for the customer; it runs on the customer's business hours."""

    name: str
    targets: Mapping[str, Mapping[str, int]]
    warning_percent: int = 80


@dataclass(frozen=True)
class FirstUser:
    fields: CustomerUserFields
    password: str | None = None  # neither this nor a hash: an invitation email with a link
    password_hash: str | None = None  # a password checked and hashed before (the wizard's draft)

    @property
    def sets_password(self) -> bool:
        return bool(self.password or self.password_hash)


@dataclass(frozen=True)
class Onboarding:
    name: str
    slug: str
    timezone: str
    email_domains: tuple[str, ...] = ()
    business_hours: BusinessHours | NewProfile | None = None
    default_sla: SlaPolicy | NewPolicy | None = None
    users: tuple[FirstUser, ...] = field(default=())


def profile_make(new: NewProfile) -> BusinessHours:
    """Create the profile and fill its holidays (``sla.services``)."""
    profile = sla_services.business_hours_create(
        name=new.name, timezone=new.timezone, schedule=new.schedule, holidays=new.holidays
    )
    if new.holiday_country:
        profile = sla_services.holidays_fill(
            business_hours=profile,
            country=new.holiday_country,
            subdivision=new.holiday_subdivision or None,
            years=new.holiday_years,
        )
    return profile


def policy_make(new: NewPolicy, business_hours: BusinessHours | None) -> SlaPolicy:
    return sla_services.sla_policy_create(
        name=new.name,
        targets=new.targets,
        business_hours=business_hours,
        warning_percent=new.warning_percent,
    )


def customer_onboard(*, onboarding: Onboarding, by: User) -> Customer:
    """Everything of ``onboarding`` in one transaction; a ValidationError (keys prefixed by the
    part: ``business_hours.``, ``default_sla.``, ``users[1].``) leaves nothing behind."""
    with transaction.atomic():
        hours = onboarding.business_hours
        if isinstance(hours, NewProfile):
            with named("business_hours"):
                hours = profile_make(hours)
        policy = onboarding.default_sla
        if isinstance(policy, NewPolicy):
            with named("default_sla"):
                policy = policy_make(policy, hours)
        customer = customer_provision(
            name=onboarding.name,
            slug=onboarding.slug,
            timezone_name=onboarding.timezone,
            default_sla=policy,
            business_hours=hours,
            email_domains=onboarding.email_domains,
        )
        with customer_schema(customer):
            for number, user in enumerate(onboarding.users, start=1):
                with named(f"users[{number}]"):
                    customer_user_create(
                        customer=customer,
                        fields=user.fields,
                        password=user.password,
                        password_hash=user.password_hash,
                        by=by,
                    )
    return customer


@contextmanager
def named(part: str) -> Iterator[None]:
    """A refusal inside, its fields named under ``part`` (``users[2].email``)."""
    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError(
                {f"{part}.{name}": messages for name, messages in exc.message_dict.items()}
            ) from exc
        raise ValidationError({part: exc.messages}) from exc
