"""Customer users: the public login identity and the profile in the customer's schema, together.

Callers run these inside the customer's schema (the API base view and the portal do)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import CustomerRole, User, UserKind
from accounts.services import (
    check_email_available,
    check_password,
    check_timezone,
    normalize_email,
    password_set,
    person_deactivate,
    person_reactivate,
)
from audit.bulk import create_entries
from audit.models import AuditEntry
from core.afterwards import after_response
from core.changes import UNSET, Changes
from people.models import CustomerUser
from sla.models import SlaPolicy
from tenants.access import require_sets_policies
from tenants.models import Customer
from tenants.schema import require_schema, tenant_connection


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


def customer_user_check(fields: CustomerUserFields) -> CustomerUserFields:
    """The fields as they are stored (email in lower case, name trimmed), or ValidationError
    naming the first wrong one. Whether the email is free is checked by the caller (one query
    for one user, one for a whole import)."""
    email = normalize_email(fields.email)
    check_timezone(fields.timezone)
    _check_role(fields.role)
    if not fields.name.strip():
        raise ValidationError({"name": ["A name is required."]})
    return replace(fields, email=email, name=fields.name.strip())


def customer_user_create(
    *,
    customer: Customer,
    fields: CustomerUserFields,
    password: str | None,
    by: User | None = None,
    password_hash: str | None = None,
) -> CustomerUser:
    """Without a password the person gets an invitation email with an activation link
    (``password_hash``: a password checked with ``check_password`` and hashed before, for a
    caller that must not keep the raw one, such as the new-customer wizard between steps). ``by``
    is who asks (None: a named job); a customer's own people may not create agents or give an
    SLA override (``_check_customer_side``)."""
    require_schema(customer, "customer users")
    _check_customer_side(by, role=fields.role, sla_policy_given=fields.sla_policy is not None)
    check_email_available(normalize_email(fields.email))
    fields = customer_user_check(fields)
    user = _new_user(customer, fields)
    if password:
        check_password(password, user)
        user.set_password(password)
    elif password_hash:
        user.password = password_hash
    with transaction.atomic():
        user.save()
        profile = CustomerUser.objects.create(user=user, sla_policy=fields.sla_policy)
        if not password and not password_hash:
            _invite_after_commit([profile])
    return profile


def _new_user(customer: Customer, fields: CustomerUserFields) -> User:
    user = User(
        email=fields.email,
        name=fields.name,
        kind=UserKind.CUSTOMER_USER,
        customer=customer,
        customer_role=fields.role,
        timezone=fields.timezone,
    )
    user.set_unusable_password()
    return user


def _invite_after_commit(profiles: list[CustomerUser]) -> None:
    from people.tasks import send_invitation

    # The schema is named now: an outer transaction may commit after we left it.
    schema = tenant_connection.schema_name
    for profile in profiles:
        # robust, after the response: a broker outage is logged and does not fail the saved change
        enqueue = partial(send_invitation.apply_async, (profile.pk,), schema=schema)
        transaction.on_commit(partial(after_response, enqueue), robust=True)


def customer_users_create_many(
    *, customer: Customer, checked: list[CustomerUserFields], invite: bool, by: User | None = None
) -> list[CustomerUser]:
    """Many users of one customer at once (imports): the rules of ``customer_user_create``,
    with fields already through ``customer_user_check`` and emails the caller found free (the
    unique email refuses a race as a whole); a few statements for all of them, audited as
    ``save()`` would be. Without ``invite`` the accounts wait for an activation sent later."""
    require_schema(customer, "customer users")
    for fields in checked:
        _check_customer_side(by, role=fields.role, sla_policy_given=fields.sla_policy is not None)
    users = [_new_user(customer, fields) for fields in checked]
    with transaction.atomic():
        User.objects.bulk_create(users)
        profiles = CustomerUser.objects.bulk_create(
            [
                CustomerUser(user=user, sla_policy=fields.sla_policy)
                for user, fields in zip(users, checked, strict=True)
            ]
        )
        # Where save() would have put them: the customer's audit table (see customer_user_create).
        AuditEntry.objects.bulk_create([*create_entries(users), *create_entries(profiles)])
        if invite:
            _invite_after_commit(profiles)
    return profiles


@dataclass(frozen=True)
class CustomerUserChanges(Changes):
    """A partial update of a customer user (``core.changes``): fields left UNSET are not touched."""

    name: str = UNSET
    email: str = UNSET
    role: str = UNSET
    timezone: str = UNSET
    sla_policy: SlaPolicy | None = UNSET
    is_active: bool = UNSET
    password: str = UNSET


def _check_customer_side(by: User | None, *, role: str | None, sla_policy_given: bool) -> None:
    """What only the provider does (``by`` None is a named job: provider-level work). Agent
    access is granted and removed by the provider, and only provider staff choose SLA policies:
    a customer's own people manage the user and admin roles of their company."""
    if by is None or by.is_provider_staff:
        return
    if sla_policy_given:
        require_sets_policies(by)
    if role == CustomerRole.AGENT:
        raise PermissionDenied("role: only your service provider grants agent access.")


def customer_user_update(
    *, profile: CustomerUser, changes: CustomerUserChanges, by: User | None = None
) -> CustomerUser:
    """Change what is given. ``by`` is who asks (None: a named job). A customer's own people may
    not touch agent-level accounts at all (their access, email and password are the provider's
    to manage), nor grant the agent role or set SLA policies."""
    user = profile.user
    wanted = changes.given()
    _check_customer_side(by, role=wanted.get("role"), sla_policy_given="sla_policy" in wanted)
    if by is not None and not by.is_provider_staff and user.customer_role == CustomerRole.AGENT:
        raise PermissionDenied("Only your service provider can change an agent's account.")
    changed: list[str] = []
    if "name" in wanted:
        if not wanted["name"].strip():
            raise ValidationError({"name": ["A name is required."]})
        user.name = wanted["name"].strip()
        changed.append("name")
    if "email" in wanted and normalize_email(wanted["email"]) != user.email:
        check_email_available(normalize_email(wanted["email"]), exclude=user)
        user.email = normalize_email(wanted["email"])
        changed.append("email")
    if "role" in wanted:
        _check_role(wanted["role"])
        user.customer_role = wanted["role"]
        changed.append("customer_role")
    if "timezone" in wanted:
        check_timezone(wanted["timezone"])
        user.timezone = wanted["timezone"]
        changed.append("timezone")
    with transaction.atomic():
        if changed:
            user.save(update_fields=changed)
        if wanted.get("password"):
            password_set(user=user, password=wanted["password"])
        if "sla_policy" in wanted:
            profile.sla_policy = wanted["sla_policy"]
            profile.save(update_fields=["sla_policy"])
        if wanted.get("is_active") is False and user.is_active:
            person_deactivate(user=user)
        elif wanted.get("is_active") is True and not user.is_active:
            person_reactivate(user=user)
    return profile
