"""Importing customer users: one row per user, found by email within its customer.

A new email creates the user (``people.services.customer_users_create_many``: a few statements
per chunk of rows, audited, invitations only when asked); a known one of the same customer is
updated through ``customer_user_update`` with the cells given (an empty cell leaves the value as
it is), or left unchanged. An email registered to anyone else, anywhere, is refused, as the API
refuses it. A new user without a name is named after their email's local part.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import CustomerRole, User
from accounts.services import normalize_email
from core.parsers import clean_text
from imports.csvfile import CsvTable, Row
from imports.models import Outcome
from imports.rows import (
    ROW_REFUSALS,
    Lookup,
    Refused,
    Run,
    chunks,
    refusal_of,
    unknown_customer,
    visible_customers,
)
from people.models import CustomerUser
from people.services import (
    CustomerUserChanges,
    CustomerUserFields,
    customer_user_check,
    customer_user_update,
    customer_users_create_many,
)
from tenants.models import Customer
from tenants.schema import customer_schema

ROLES = (CustomerRole.USER, CustomerRole.ADMIN)  # agent access is granted one by one, not imported


@dataclass(frozen=True)
class UserRow:
    line: int
    customer: Customer
    email: str
    values: dict[str, str]
    policy_given: bool
    fields: CustomerUserFields


def _email(row: Row) -> str:
    email = normalize_email(clean_text(row.values.get("email", ""), field="email"))
    if not email:
        raise Refused("email", "An email address is required.")
    try:
        validate_email(email)
    except ValidationError:
        raise Refused("email", f"'{email[:100]}' is not an email address.") from None
    return email


def _read(row: Row, customers: dict[str, Customer], lookup: Lookup) -> UserRow:
    if row.problem is not None:
        raise Refused(*row.problem)
    slug = row.values.get("customer", "")
    if not slug:
        raise Refused("customer", "The customer's slug is required.")
    customer = customers.get(slug)
    if customer is None:
        raise unknown_customer(slug)
    email = _email(row)
    role = row.values.get("role") or CustomerRole.USER
    if role not in ROLES:
        raise Refused("role", f"'{role[:40]}' is not a role; use user or admin.")
    policy = lookup.policy(row.values.get("sla_policy", ""))
    fields = CustomerUserFields(
        email=email,
        name=row.values.get("name") or email.split("@", 1)[0],
        role=role,
        timezone=row.values.get("timezone") or "UTC",
        sla_policy=policy,
    )
    try:
        fields = customer_user_check(fields)
    except ValidationError as exc:
        raise refusal_of(exc) from None
    return UserRow(row.line, customer, email, row.values, policy is not None, fields)


def import_users(table: CsvTable, run: Run) -> None:
    lookup = Lookup()
    customers = visible_customers(run.by, [row.values.get("customer", "") for row in table.rows])
    wanted: list[UserRow] = []
    first_of: dict[str, int] = {}
    for row in table.rows:
        try:
            read = _read(row, customers, lookup)
            if read.email in first_of:
                raise Refused("email", f"This email is already on row {first_of[read.email]}.")
        except (Refused, *ROW_REFUSALS) as exc:
            run.refuse(row.line, refusal_of(exc))
            continue
        first_of[read.email] = read.line
        run.checked(read.line)
        wanted.append(read)
    known = {user.email: user for user in User.objects.filter(email__in=[read.email for read in wanted])}
    by_customer: dict[Customer, list[UserRow]] = defaultdict(list)
    for read in wanted:
        user = known.get(read.email)
        if user is not None and (not user.is_customer_user or user.customer_id != read.customer.pk):
            run.refuse(read.line, Refused("email", "This email address is already registered."))
            continue
        by_customer[read.customer].append(read)
    for customer, reads in by_customer.items():
        with customer_schema(customer):
            _import_into(customer, reads, known, run)


def _import_into(customer: Customer, reads: list[UserRow], known: dict[str, User], run: Run) -> None:
    new = [read for read in reads if read.email not in known]
    for part in chunks(new):
        customer_users_create_many(
            customer=customer, checked=[read.fields for read in part], invite=run.send_invites, by=run.by
        )
        for read in part:
            run.done(read.line, Outcome.CREATE)
    existing = [read for read in reads if read.email in known]
    profiles = {
        profile.user_id: profile
        for profile in CustomerUser.objects.select_related("user").filter(
            user__in=[known[read.email] for read in existing]
        )
    }
    for read in existing:
        profile = profiles.get(known[read.email].pk)
        if profile is None:  # an account without a profile here: not this customer's user
            run.refuse(read.line, Refused("email", "This email address is already registered."))
            continue
        _update(profile, read, run)


def _changes(profile: CustomerUser, read: UserRow) -> CustomerUserChanges:
    """What the row's non-empty cells change (a new user's defaults never overwrite)."""
    user, given, fields = profile.user, read.values, read.fields
    wanted: dict[str, Any] = {}
    if given.get("name") and fields.name != user.name:
        wanted["name"] = fields.name
    if given.get("role") and fields.role != user.customer_role:
        wanted["role"] = fields.role
    if given.get("timezone") and fields.timezone != user.timezone:
        wanted["timezone"] = fields.timezone
    if read.policy_given and fields.sla_policy != profile.sla_policy:
        wanted["sla_policy"] = fields.sla_policy
    return CustomerUserChanges(**wanted)


def _update(profile: CustomerUser, read: UserRow, run: Run) -> None:
    changes = _changes(profile, read)
    if not changes:
        run.done(read.line, Outcome.UNCHANGED)
        return
    try:
        with transaction.atomic():  # a refused row leaves nothing behind
            customer_user_update(profile=profile, changes=changes, by=run.by)
    except ROW_REFUSALS as exc:
        run.refuse(read.line, refusal_of(exc))
        return
    run.done(read.line, Outcome.UPDATE, ", ".join(changes.given()))
