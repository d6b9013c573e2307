"""Workflows on people: agents, tokens, passwords, deactivation."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import signins
from accounts.models import (
    OCCASIONAL_DEFAULTS,
    SCOPE_LEVELS,
    AgentMembership,
    ApiToken,
    Licence,
    User,
    UserKind,
    token_digest,
)
from core.afterwards import after_response
from core.changes import UNSET, Changes
from core.parsers import validate_timezone
from core.statistics import analyze_after_commit

if TYPE_CHECKING:
    from tenants.models import Customer


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email_available(email: str, *, exclude: User | None = None) -> None:
    others = User.objects.filter(email__iexact=email)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ValidationError({"email": ["This email address is already registered."]})


def check_timezone(name: str) -> None:
    try:
        validate_timezone(name)
    except ValidationError as exc:
        raise ValidationError({"timezone": exc.messages}) from exc


def check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def check_admin_licence(*, is_admin: bool, licence: str | None) -> None:
    """Provider admins are full-time agents (they never consume day passes)."""
    if is_admin and licence == Licence.OCCASIONAL:
        message = "Provider admins are full-time agents: choose the full-time licence, or no admin rights."
        raise ValidationError({"licence": [message]})


def check_permissions(permissions: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(permissions) - set(SCOPE_LEVELS))
    if unknown:
        raise ValidationError({"permissions": [f"Unknown scope(s): {', '.join(unknown)}."]})
    merged = {**OCCASIONAL_DEFAULTS, **permissions}
    for scope, level in merged.items():
        if level not in SCOPE_LEVELS[scope]:
            allowed = ", ".join(SCOPE_LEVELS[scope])
            raise ValidationError({"permissions": [f"'{scope}' must be one of {allowed}, got '{level}'."]})
    return merged


@dataclass(frozen=True)
class AgentFields:
    email: str
    name: str
    licence: str = Licence.FULL_TIME
    timezone: str = "UTC"
    is_admin: bool = False
    all_customers: bool = False
    customers: tuple[Customer, ...] = ()
    permissions: dict[str, str] | None = None


def agent_create(*, fields: AgentFields, password: str | None) -> User:
    """Create a provider admin or agent. Without a password the person gets an activation email."""
    email = normalize_email(fields.email)
    check_email_available(email)
    check_timezone(fields.timezone)
    if not fields.name.strip():
        raise ValidationError({"name": ["A name is required."]})
    check_admin_licence(is_admin=fields.is_admin, licence=fields.licence)
    user = User(
        email=email,
        name=fields.name.strip(),
        kind=UserKind.PROVIDER_ADMIN if fields.is_admin else UserKind.AGENT,
        licence=fields.licence,
        timezone=fields.timezone,
        all_customers=fields.is_admin or fields.all_customers,
        permissions=check_permissions(fields.permissions or {})
        if fields.licence == Licence.OCCASIONAL
        else {},
    )
    if password:
        check_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        memberships_set(agent=user, customers=fields.customers)
        if not password:
            _send_activation_after_commit(user)
    return user


def memberships_set(*, agent: User, customers: Iterable[Customer]) -> None:
    wanted = {customer.pk: customer for customer in customers}
    current = set(AgentMembership.objects.filter(agent=agent).values_list("customer_id", flat=True))
    for membership in AgentMembership.objects.filter(agent=agent).exclude(customer_id__in=wanted):
        membership.delete()  # one by one, so each removal is in the audit trail
    for customer_id, customer in wanted.items():
        if customer_id not in current:
            AgentMembership.objects.create(agent=agent, customer=customer)
    if current != set(wanted):
        analyze_after_commit(AgentMembership)


def _send_activation_after_commit(user: User) -> None:
    from accounts.tasks import send_activation_email

    # robust, after the response: a broker outage is logged and does not fail the saved change
    transaction.on_commit(partial(after_response, partial(send_activation_email.delay, user.pk)), robust=True)


def person_deactivate(*, user: User) -> User:
    """End everything at once: the account, every session (new auth stamp), every token."""
    with transaction.atomic():
        user.is_active = False
        user.auth_stamp = uuid.uuid4()
        user.save(update_fields=["is_active", "auth_stamp"])
        for token in ApiToken.objects.live().filter(user=user):
            token_revoke(token=token)
    return user


def person_reactivate(*, user: User) -> User:
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def password_set(*, user: User, password: str) -> User:
    """A new password ends the person's sessions (the session hash covers it) and revokes their
    API tokens: whoever knew the old password may have made one."""
    check_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])  # no entry of its own: the field is left out of diffs
        signins.record_password_set(user)
        for token in ApiToken.objects.live().filter(user=user):
            token_revoke(token=token)
    return user


TOKEN_PREFIX = "sf_"  # noqa: S105 - a visible prefix, not a secret


def token_issue(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token. The raw value is returned once and never stored."""
    if not user.is_active:
        raise ValidationError("A deactivated account cannot get tokens.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=(name.strip() or "API token")[:100],
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        digest=token_digest(raw),
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@dataclass(frozen=True)
class AgentChanges(Changes):
    """A partial update of an agent (``core.changes``): fields left UNSET are not touched."""

    email: str = UNSET
    name: str = UNSET
    timezone: str = UNSET
    licence: str = UNSET
    is_admin: bool = UNSET
    permissions: dict[str, str] | None = UNSET
    all_customers: bool = UNSET
    customers: tuple[Customer, ...] = UNSET  # the memberships (ignored for all customers)
    password: str = UNSET
    is_active: bool = UNSET


def agent_update(*, agent: User, changes: AgentChanges) -> User:
    """PATCH/PUT on an agent: each field through the workflow that owns it."""
    wanted = changes.given()
    changed: list[str] = []
    with transaction.atomic():
        if "email" in wanted and normalize_email(wanted["email"]) != agent.email:
            check_email_available(normalize_email(wanted["email"]), exclude=agent)
            agent.email = normalize_email(wanted["email"])
            changed.append("email")
        if "name" in wanted:
            if not wanted["name"].strip():
                raise ValidationError({"name": ["A name is required."]})
            agent.name = wanted["name"].strip()
            changed.append("name")
        if "timezone" in wanted:
            check_timezone(wanted["timezone"])
            agent.timezone = wanted["timezone"]
            changed.append("timezone")
        if "licence" in wanted:
            agent.licence = wanted["licence"]
            changed.append("licence")
        if "is_admin" in wanted:
            agent.kind = UserKind.PROVIDER_ADMIN if wanted["is_admin"] else UserKind.AGENT
            changed.append("kind")
        check_admin_licence(is_admin=agent.kind == UserKind.PROVIDER_ADMIN, licence=agent.licence)
        if "permissions" in wanted or ("licence" in wanted and agent.licence == Licence.OCCASIONAL):
            agent.permissions = (
                check_permissions(wanted.get("permissions") or agent.permissions or {})
                if agent.licence == Licence.OCCASIONAL
                else {}
            )
            changed.append("permissions")
        if "all_customers" in wanted:
            agent.all_customers = wanted["all_customers"]
            changed.append("all_customers")
        if agent.kind == UserKind.PROVIDER_ADMIN and not agent.all_customers:
            agent.all_customers = True
            changed.append("all_customers")
        if changed:
            agent.save(update_fields=sorted(set(changed)))
        if "customers" in wanted or "all_customers" in wanted:
            members = () if agent.all_customers else wanted.get("customers", ())
            memberships_set(agent=agent, customers=members)
        if wanted.get("password"):
            password_set(user=agent, password=wanted["password"])
        if wanted.get("is_active") is False and agent.is_active:
            person_deactivate(user=agent)
        elif wanted.get("is_active") is True and not agent.is_active:
            person_reactivate(user=agent)
    return agent
