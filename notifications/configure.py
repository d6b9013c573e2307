"""Changing who is told of what: notification rules (a customer's or provider-wide, provider
admins only) and each person's own preferences (mutes and quiet hours). Every write is a model
save, audited (``audit.registry``) under the caller."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from accounts.models import User, UserKind
from notifications.models import NotificationPreference, NotificationRule, RuleEvent
from notifications.rules import audience, unmutable_events
from tenants.models import Customer

ADMINS_ONLY = "Only provider admins change notification rules."
MAX_RULES_PER_LEVEL = 200


def rule_of(customer: Customer | None, rule_id: int) -> NotificationRule | None:
    """A rule of one level (a customer's, or provider-wide for None), or None."""
    return NotificationRule.objects.filter(customer=customer, pk=rule_id).first()


def provider_staff() -> QuerySet[User]:
    """Who a provider-wide rule may name: active provider admins and agents."""
    return User.objects.filter(is_active=True, kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT])


def _require_admin(by: User) -> None:
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied(ADMINS_ONLY)


def check_recipients(customer: Customer | None, recipients: list[dict[str, Any]]) -> None:
    """A named person must be allowed to see the customer (a provider-wide rule: provider
    staff); the refusal names who is not."""
    ids = [item["user"] for item in recipients if "user" in item]
    if not ids:
        return
    if customer is None:
        allowed = provider_staff().filter(pk__in=ids)
        where = "provider-wide rules name provider staff only"
    else:
        allowed = audience(customer).filter(pk__in=ids)
        where = f"only people who may see {customer.name} can be named"
    refused = sorted(set(ids) - set(allowed.values_list("pk", flat=True)))
    if refused:
        raise ValidationError({"recipients": [f"User {refused[0]} cannot be notified here: {where}."]})


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(values)
    if "recipients" in cleaned:  # each once, in the order given
        seen: list[dict[str, Any]] = []
        for item in cleaned["recipients"]:
            if item not in seen:
                seen.append(dict(item))
        cleaned["recipients"] = seen
    if "channels" in cleaned:
        cleaned["channels"] = sorted(set(cleaned["channels"]))
    return cleaned


def rule_create(*, customer: Customer | None, by: User, values: dict[str, Any]) -> NotificationRule:
    """A new rule of ``customer`` (None: provider-wide); from now on the rules of its level
    decide its event there."""
    _require_admin(by)
    values = _clean(values)
    check_recipients(customer, values["recipients"])
    with transaction.atomic():
        if NotificationRule.objects.filter(customer=customer).count() >= MAX_RULES_PER_LEVEL:
            raise ValidationError({"event": [f"At most {MAX_RULES_PER_LEVEL} rules per customer."]})
        return NotificationRule.objects.create(customer=customer, **values)


def rule_update(*, rule: NotificationRule, by: User, changes: dict[str, Any]) -> NotificationRule:
    """Change the fields given (named recipients checked again)."""
    _require_admin(by)
    changes = _clean(changes)
    if "recipients" in changes:
        check_recipients(rule.customer, changes["recipients"])
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def rule_delete(*, rule: NotificationRule, by: User) -> None:
    _require_admin(by)
    rule.delete()


# --- preferences ---------------------------------------------------------------------------------


def preference_of(user: User) -> NotificationPreference:
    """The person's preferences (unsaved defaults until they change something)."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user)


def preference_set(
    *,
    user: User,
    muted: dict[str, list[str]] | None = None,
    quiet: tuple[time | None, time | None] | None = None,
) -> NotificationPreference:
    """Change the caller's own mutes (``{event: [channel]}``, replacing them) and/or quiet
    hours (both times, or neither). An event nobody may mute is refused by name. The row is
    created or changed by its unique key under its lock (``update_or_create``), so two first
    saves at once both succeed, the later one's fields winning."""
    changes: dict[str, Any] = {}
    if muted is not None:
        refused = sorted(
            event for event, channels in muted.items() if channels and event in unmutable_events()
        )
        if refused:
            label = RuleEvent(refused[0]).label
            raise ValidationError({"muted": [f"{label} notifications cannot be muted."]})
        changes["muted"] = {
            event: sorted(set(channels)) for event, channels in sorted(muted.items()) if channels
        }
    if quiet is not None:
        start, end = quiet
        if (start is None) != (end is None):
            raise ValidationError(
                {"quiet_to" if end is None else "quiet_from": ["Give both ends of quiet hours."]}
            )
        if start is not None and start == end:
            raise ValidationError({"quiet_to": ["Quiet hours must end at another time than they start."]})
        changes["quiet_from"], changes["quiet_to"] = start, end
    with transaction.atomic():
        preference, _ = NotificationPreference.objects.update_or_create(user=user, defaults=changes)
    return preference
