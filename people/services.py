"""Customer users: the public login identity and the profile in the customer's schema, together.

Callers run these inside the customer's schema (the API base view and the portal do)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import CustomerRole, User, UserKind
from accounts.services import (
    check_email_available,
    check_password,
    check_timezone,
    normalize_email,
    person_deactivate,
    person_reactivate,
)
from people.models import CustomerUser
from sla.models import SlaPolicy
from tenants.models import Customer
from tenants.schema import tenant_connection


def _require_schema(customer: Customer) -> None:
    if tenant_connection.schema_name != customer.schema_name:
        raise RuntimeError(f"customer users of {customer.slug} are changed inside its schema only")


def _check_role(role: str) -> None:
    if role not in CustomerRole.values:
        raise ValidationError({"role": [f"Role must be one of {', '.join(CustomerRole.values)}."]})


@dataclass(frozen=True)
class CustomerUserFields:
    email: str
    name: str
    role: str = CustomerRole.USER
    timezone: str = "UTC"
    sla_policy: SlaPolicy | None = None


def customer_user_create(
    *, customer: Customer, fields: CustomerUserFields, password: str | None
) -> CustomerUser:
    """Without a password the person gets an invitation email with an activation link."""
    _require_schema(customer)
    email = normalize_email(fields.email)
    check_email_available(email)
    check_timezone(fields.timezone)
    _check_role(fields.role)
    if not fields.name.strip():
        raise ValidationError({"name": ["A name is required."]})
    user = User(
        email=email,
        name=fields.name.strip(),
        kind=UserKind.CUSTOMER_USER,
        customer=customer,
        customer_role=fields.role,
        timezone=fields.timezone,
    )
    if password:
        check_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        profile = CustomerUser.objects.create(user=user, sla_policy=fields.sla_policy)
        if not password:
            from people.tasks import send_invitation

            # The schema is named now: an outer transaction may commit after we left it.
            invite = partial(send_invitation.apply_async, (profile.pk,), schema=tenant_connection.schema_name)
            transaction.on_commit(invite)
    return profile


def customer_user_update(
    *,
    profile: CustomerUser,
    name: str | None = None,
    email: str | None = None,
    role: str | None = None,
    timezone_name: str | None = None,
    sla_policy: SlaPolicy | None = None,
    change_sla_policy: bool = False,
    is_active: bool | None = None,
    password: str | None = None,
) -> CustomerUser:
    user = profile.user
    changed: list[str] = []
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": ["A name is required."]})
        user.name = name.strip()
        changed.append("name")
    if email is not None and normalize_email(email) != user.email:
        check_email_available(normalize_email(email), exclude=user)
        user.email = normalize_email(email)
        changed.append("email")
    if role is not None:
        _check_role(role)
        user.customer_role = role
        changed.append("customer_role")
    if timezone_name is not None:
        check_timezone(timezone_name)
        user.timezone = timezone_name
        changed.append("timezone")
    if password:
        check_password(password, user)
        user.set_password(password)
        changed.append("password")
    with transaction.atomic():
        if changed:
            user.save(update_fields=changed)
        if change_sla_policy:
            profile.sla_policy = sla_policy
            profile.save(update_fields=["sla_policy"])
        if is_active is False and user.is_active:
            person_deactivate(user=user)
        elif is_active is True and not user.is_active:
            person_reactivate(user=user)
    return profile
