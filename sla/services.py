"""SLA configuration workflows (public schema): business-hours profiles and policies.

Every channel (API, console, imports) goes through these functions, so the rules are the same
everywhere:

- A profile is validated with ``sla.engine.calendar``'s own parsers, so a profile that saves is one the
  engine can run (no overlaps, valid times and weekdays, some open time, an IANA zone, dates).
- A policy has exactly P1-P4, each with positive whole-minute ``first_response`` and
  ``resolution`` targets (first response no later than resolution), and a warning percent 1-99.
- Exactly one policy is the provider default at all times: making a policy the default moves the
  flag in one transaction; the default cannot be unset (make another one the default) or deleted.
- What is in use is not deleted: a profile used by a policy or a customer is refused (409
  ``in_use``), and so is a policy that anything references (409 ``policy_in_use``, see
  ``sla_policy_delete``).

A refusal of bad input is a ``ValidationError`` keyed by the path of the value at fault:
``name``, ``timezone``, ``schedule``, ``schedule.mon``, ``schedule.mon[1]``, ``holidays[0]``,
``targets``, ``targets.P2``, ``targets.P2.resolution``, ``warning_percent``, ``country``,
``subdivision``, ``years``. Nothing is written when anything is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import holidays as holiday_data
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from core.changes import UNSET, Changes
from core.errors import RuleViolation
from sla.engine.calendar import (
    WEEKDAYS,
    DueOutOfRange,
    ProfileError,
    calendar_for,
    parse_holidays,
    parse_schedule,
    parse_timezone,
)
from sla.hooks import policy_references
from sla.models import PRIORITIES, BusinessHours, SlaPolicy
from tenants.across import first_match
from tenants.models import Customer

TARGET_CLOCKS = ("first_response", "resolution")
# A target past a year is a typo, and a calendar gives up looking for business time after ten.
MAX_TARGET_MINUTES = 365 * 24 * 60
MAX_HOLIDAYS = 2000
FILL_YEARS = (2000, 2100)  # the years a fill may ask for
MAX_FILL_YEARS = 10  # per fill
_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-\u2013]\s*(\d{4})\s*)?$")  # 2026, 2026-2028 or with an en dash

Errors = dict[str, list[str]]


# --- profiles -----------------------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def schedule_clean(schedule: Any) -> dict[str, list[list[str]]]:
    """The stored form of a schedule: all seven weekdays, intervals sorted, times as HH:MM.
    Raises ``ProfileError`` naming the interval at fault."""
    week = parse_schedule(schedule)
    return {
        day: [[_hhmm(start), _hhmm(end)] for start, end in week[index]] for index, day in enumerate(WEEKDAYS)
    }


def holidays_clean(holidays: Any) -> list[str]:
    """Sorted, distinct ISO dates. Raises ``ProfileError`` naming the entry at fault."""
    if isinstance(holidays, tuple):
        holidays = list(holidays)
    days = [day.isoformat() for day in parse_holidays(holidays)]
    if len(days) > MAX_HOLIDAYS:
        raise ProfileError("holidays", f"at most {MAX_HOLIDAYS} dates; remove past years first")
    return days


def _check_name(model: type[Model], name: Any, *, instance: Model | None, errors: Errors) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        errors["name"] = ["A name is required."]
    elif len(text) > 100:
        errors["name"] = ["At most 100 characters."]
    else:
        taken = model._default_manager.filter(name__iexact=text)
        if instance is not None:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            errors["name"] = [f"The name '{text}' is already taken."]
    return text


@dataclass(frozen=True)
class ProfileChanges(Changes):
    """A business-hours profile, whole (create) or in part (update: UNSET is not touched)."""

    name: str = UNSET
    timezone: str = UNSET
    schedule: Mapping[str, Any] = UNSET
    holidays: Sequence[str] = UNSET


def _profile_values(*, instance: BusinessHours | None, changes: ProfileChanges) -> dict[str, Any]:
    """The given (not UNSET) values, cleaned; every part is checked and all refusals raised together."""
    errors: Errors = {}
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _check_name(BusinessHours, changes.name, instance=instance, errors=errors)
    for field, clean, value in (
        ("timezone", parse_timezone, changes.timezone),
        ("schedule", schedule_clean, changes.schedule),
        ("holidays", holidays_clean, changes.holidays),
    ):
        if value is UNSET:
            continue
        try:
            values[field] = clean(value)
        except ProfileError as exc:
            errors[exc.field] = [exc.message]
    if errors:
        raise ValidationError(errors)
    return values


def _save(instance: Model, fields: Iterable[str] | None = None) -> None:
    """Save, turning a lost race for a unique name into the same refusal as the check before."""
    try:
        with transaction.atomic():
            instance.save(update_fields=list(fields) if fields is not None else None)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or ""
        if "name" in constraint:
            raise ValidationError({"name": ["That name is already taken."]}) from exc
        raise


def business_hours_create(
    *,
    name: str,
    schedule: Mapping[str, Any],
    timezone: str = "UTC",
    holidays: Sequence[str] = (),
) -> BusinessHours:
    values = _profile_values(
        instance=None,
        changes=ProfileChanges(name=name, timezone=timezone, schedule=schedule, holidays=holidays),
    )
    profile = BusinessHours(**values)
    _save(profile)
    return profile


def business_hours_update(*, business_hours: BusinessHours, changes: ProfileChanges) -> BusinessHours:
    """Change what is given. A schedule is replaced as a whole (days left out are closed).
    Tickets keep the snapshot they took; only new tickets (or an explicit re-apply) see this."""
    values = _profile_values(instance=business_hours, changes=changes)
    for field, value in values.items():
        setattr(business_hours, field, value)
    if values.keys() & {"timezone", "schedule", "holidays"}:
        for policy in business_hours.policies.order_by("name"):
            _check_reachable(
                name=policy.name,
                targets=policy.targets,
                profile=business_hours.as_profile(),
                field="schedule" if "schedule" in values else next(iter(values.keys() - {"name"})),
            )
    if values:
        _save(business_hours, values)
    return business_hours


def _names(values: Iterable[str]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:3]) + (f" and {len(quoted) - 3} more" if len(quoted) > 3 else "")


def business_hours_delete(*, business_hours: BusinessHours) -> None:
    """Delete a profile nothing uses; one used by a policy or a customer is refused (409 ``in_use``).
    Tickets keep a copy of the profile they ran on, so they do not count."""
    policies = list(business_hours.policies.order_by("name").values_list("name", flat=True))
    customers = list(
        Customer.objects.filter(business_hours=business_hours).order_by("name").values_list("name", flat=True)
    )
    users = []
    if policies:
        users.append(f"polic{'ies' if len(policies) > 1 else 'y'} {_names(policies)}")
    if customers:
        users.append(f"customer{'s' if len(customers) > 1 else ''} {_names(customers)}")
    if users:
        raise RuleViolation(
            "in_use",
            f"'{business_hours.name}' is used by {' and '.join(users)}; choose another profile there first.",
            status=409,
        )
    try:
        with transaction.atomic():
            business_hours.delete()
            connection.check_constraints()  # a reference added meanwhile fails here, not at commit
    except IntegrityError as exc:
        raise RuleViolation("in_use", f"'{business_hours.name}' was just put to use.", status=409) from exc


# --- holidays from the ``holidays`` package -----------------------------------------------------


def years_parse(text: Any) -> range:
    """``"2026"``, ``"2026-2028"`` (or with an en dash) or a year as a number -> the years."""
    match = _YEARS.match(str(text)) if isinstance(text, str | int) and not isinstance(text, bool) else None
    if match is None:
        raise ValidationError({"years": [f"{text!r}: give a year (2026) or a range (2026-2028)."]})
    first = int(match.group(1))
    last = int(match.group(2) or first)
    return range(first, last + 1)


def holidays_fill(
    *, business_hours: BusinessHours, country: str, years: range, subdivision: str | None = None
) -> BusinessHours:
    """Add ``country``'s public holidays (of ``subdivision``, e.g. GB/SCT, if given) for ``years``
    to the profile's holidays, as plain dates: the profile never depends on the package again."""
    errors: Errors = {}
    code = country.strip().upper() if isinstance(country, str) else ""
    supported = holiday_data.list_supported_countries()
    region = subdivision.strip().upper() if subdivision else None
    if code not in supported:
        errors["country"] = [
            f"{country!r} is not a country code the holidays package knows (such as GB, DE, US)."
        ]
    elif region and region not in supported[code]:
        known = ", ".join(supported[code]) or "none"
        errors["subdivision"] = [f"{subdivision!r} is not a subdivision of {code} (known: {known})."]
    if not years:
        errors["years"] = ["The last year comes before the first."]
    elif years.start < FILL_YEARS[0] or years[-1] > FILL_YEARS[1]:
        errors["years"] = [f"Years between {FILL_YEARS[0]} and {FILL_YEARS[1]} only."]
    elif len(years) > MAX_FILL_YEARS:
        errors["years"] = [f"At most {MAX_FILL_YEARS} years at once."]
    if errors:
        raise ValidationError(errors)
    try:
        found = holiday_data.country_holidays(code, subdiv=region, years=years)
    except NotImplementedError as exc:
        raise ValidationError({"country": [str(exc)]}) from exc
    with transaction.atomic():
        # Read-modify-write of the list: lock the row, so a concurrent fill or edit is not lost.
        locked = BusinessHours.objects.select_for_update().get(pk=business_hours.pk)
        try:
            merged = holidays_clean([*locked.holidays, *(day.isoformat() for day in found)])
        except ProfileError as exc:
            raise ValidationError({"years": [exc.message]}) from exc
        if merged != locked.holidays:
            locked.holidays = merged
            locked.save(update_fields=["holidays"])
    business_hours.holidays = locked.holidays
    return locked


# --- policies -----------------------------------------------------------------------------------


def targets_clean(targets: Any) -> dict[str, dict[str, int]]:
    """``{"P1": {"first_response": 60, "resolution": 240}, ..., "P4": {...}}``: exactly the four
    priorities, each with both targets as positive whole minutes, first response <= resolution.
    Every fault is reported (``targets.P2.resolution``...) in one ``ValidationError``."""
    if not isinstance(targets, Mapping):
        raise ValidationError(
            {
                "targets": [
                    'Expected an object such as {"P1": {"first_response": 60, "resolution": 240}, ...}.'
                ]
            }
        )
    errors: Errors = {}
    for key in sorted(set(targets) - set(PRIORITIES), key=str):
        errors[f"targets.{key}"] = ["Not a priority; use P1, P2, P3 and P4."]
    cleaned: dict[str, dict[str, int]] = {}
    for priority in PRIORITIES:
        pair = targets.get(priority)
        if not isinstance(pair, Mapping):
            message = "Missing." if pair is None else "Expected {first_response, resolution}."
            errors[f"targets.{priority}"] = [f"{message} Give first_response and resolution in minutes."]
            continue
        for key in sorted(set(pair) - set(TARGET_CLOCKS), key=str):
            errors[f"targets.{priority}.{key}"] = ["Unknown target; use first_response and resolution."]
        minutes: dict[str, int] = {}
        for clock in TARGET_CLOCKS:
            field = f"targets.{priority}.{clock}"
            value = pair.get(clock)
            if value is None:
                errors[field] = ["Required: minutes of business time."]
            elif isinstance(value, bool) or not isinstance(value, int):
                errors[field] = [f"{value!r} is not a whole number of minutes."]
            elif not 1 <= value <= MAX_TARGET_MINUTES:
                errors[field] = [f"Give between 1 and {MAX_TARGET_MINUTES} minutes (365 days)."]
            else:
                minutes[clock] = value
        if len(minutes) == 2:
            if minutes["first_response"] > minutes["resolution"]:
                errors[f"targets.{priority}.first_response"] = [
                    f"The first response ({minutes['first_response']} min) cannot be due after the "
                    f"resolution ({minutes['resolution']} min)."
                ]
            cleaned[priority] = minutes
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass(frozen=True)
class PolicyChanges(Changes):
    """An SLA policy, in part (update: fields left UNSET are not touched)."""

    name: str = UNSET
    business_hours: BusinessHours | None = UNSET
    targets: Mapping[str, Mapping[str, int]] = UNSET
    warning_percent: int = UNSET
    is_default: bool = UNSET


def _policy_values(*, instance: SlaPolicy | None, changes: PolicyChanges) -> dict[str, Any]:
    errors: Errors = {}
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _check_name(SlaPolicy, changes.name, instance=instance, errors=errors)
    if "targets" in changes:
        try:
            values["targets"] = targets_clean(changes.targets)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    warning_percent = changes.warning_percent
    if "warning_percent" in changes:
        if isinstance(warning_percent, bool) or not isinstance(warning_percent, int):
            errors["warning_percent"] = [f"{warning_percent!r} is not a whole number."]
        elif not 1 <= warning_percent <= 99:
            errors["warning_percent"] = ["Give a percentage between 1 and 99."]
        else:
            values["warning_percent"] = warning_percent
    if errors:
        raise ValidationError(errors)
    return values


# A due time further than this from the ticket's creation is a configuration error (and, far
# enough, one the arithmetic cannot represent: core.parsers.LATEST).
DUE_HORIZON = timedelta(days=100 * 365)


def _check_reachable(
    *, name: str, targets: Mapping[str, Mapping[str, int]], profile: Mapping[str, Any] | None, field: str
) -> None:
    """Refuse a policy whose longest target, counted from now in its business hours, would be
    due more than ``DUE_HORIZON`` later: every new ticket under it would get a due time nobody
    can meet (or none at all). ``field`` names the input to blame."""
    if profile is None or not targets:
        return
    longest = max(minutes for pair in targets.values() for minutes in pair.values())
    now = timezone.now()
    try:
        due: datetime | None = calendar_for(profile).add(now, longest)
    except (DueOutOfRange, ProfileError):
        due = None
    if due is None or due - now > DUE_HORIZON:
        years = DUE_HORIZON.days // 365
        raise ValidationError(
            {
                field: [
                    f"With business hours '{profile.get('name', '')}', the {longest}-minute target of "
                    f"'{name}' would be due more than {years} years after a ticket opens; "
                    "open more hours or shorten the target."
                ]
            }
        )


def _take_default(policy: SlaPolicy | None) -> None:
    """Unset the current default (inside the caller's transaction, which then sets ``policy``).
    Every policy row is locked, in id order: two admins moving the flag at once queue up here,
    and the second one sees the first one's default, so the one-default constraint never trips."""
    list(SlaPolicy.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    for current in SlaPolicy.objects.filter(is_default=True):
        if policy is None or current.pk != policy.pk:
            current.is_default = False
            current.save(update_fields=["is_default"])


def sla_policy_create(
    *,
    name: str,
    targets: Mapping[str, Mapping[str, int]],
    business_hours: BusinessHours | None = None,
    warning_percent: int = 80,
    is_default: bool = False,
) -> SlaPolicy:
    values = _policy_values(
        instance=None, changes=PolicyChanges(name=name, targets=targets, warning_percent=warning_percent)
    )
    _check_reachable(
        name=values["name"],
        targets=values["targets"],
        profile=business_hours.as_profile() if business_hours else None,
        field="targets",
    )
    with transaction.atomic():
        if is_default:
            _take_default(None)
        policy = SlaPolicy(**values, business_hours=business_hours, is_default=is_default)
        _save(policy)
    return policy


def sla_policy_update(*, policy: SlaPolicy, changes: PolicyChanges) -> SlaPolicy:
    """Change what is given. ``is_default=True`` moves the provider default here; ``False`` on
    the current default is refused (400 ``default_required``): make another policy the default.
    Tickets keep their snapshot; only new tickets (or an explicit re-apply) see the change."""
    values = _policy_values(instance=policy, changes=changes)
    if "business_hours" in changes:
        values["business_hours"] = changes.business_hours
    if values.keys() & {"targets", "business_hours"}:
        profile = values.get("business_hours", policy.business_hours)
        _check_reachable(
            name=values.get("name", policy.name),
            targets=values.get("targets", policy.targets),
            profile=profile.as_profile() if profile else None,
            field="targets" if "targets" in values else "business_hours",
        )
    is_default = changes.is_default
    with transaction.atomic():
        if "is_default" in changes:
            if is_default:
                _take_default(policy)
            elif SlaPolicy.objects.select_for_update().filter(pk=policy.pk, is_default=True).exists():
                raise RuleViolation(
                    "default_required",
                    f"'{policy.name}' is the provider default and there must always be one; "
                    "make another policy the default first.",
                    field="is_default",
                )
            values["is_default"] = is_default
        for field, value in values.items():
            setattr(policy, field, value)
        if values:
            _save(policy, values)
    return policy


# Tenant tables that point at a policy (their references carry no database constraint, except
# a customer user's override), and how a refusal names them.
def _tenant_reference(policy: SlaPolicy) -> str | None:
    """Where the first customer-schema reference to ``policy`` is, or None: one statement over
    every customer's schema and every registered reference (``sla.hooks``), stopped at the first
    hit. It grows with the number of customers (not rows), which is fine for a rare admin
    action and keeps tickets from pointing at nothing."""
    customers = list(Customer.objects.customers().order_by("name").values_list("name", "schema_name"))
    probes = [
        (schema, reference.model, reference.field, f"{reference.label} of {customer_name}")
        for customer_name, schema in customers
        for reference in policy_references()
    ]
    hit = first_match([(schema, model, field) for schema, model, field, _ in probes], policy.pk)
    return None if hit is None else probes[hit][3]


def sla_policy_delete(*, policy: SlaPolicy) -> None:
    """Delete a policy that nothing references; otherwise 409 ``policy_in_use``, and the default
    is never deleted (409 ``default_required``).

    References are the customers' defaults (public) and, in every customer's schema, users'
    overrides, CIs, ticket overrides and the tickets that ran on the policy. So a policy that
    has ever been applied to a ticket is never hard-deleted: tickets name it in their history
    and explanation. Rename it or stop assigning it instead."""
    with transaction.atomic():
        locked = SlaPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        if locked is None:
            return
        if locked.is_default:
            raise RuleViolation(
                "default_required",
                f"'{locked.name}' is the provider default and cannot be deleted; "
                "make another policy the default first.",
                field="is_default",
                status=409,
            )
        customers = list(
            Customer.objects.filter(default_sla=locked).order_by("name").values_list("name", flat=True)
        )
        where = f"the default of customer {_names(customers)}" if customers else _tenant_reference(locked)
        if where:
            raise RuleViolation(
                "policy_in_use",
                f"'{locked.name}' is in use ({where}); a policy in use is never deleted.",
                status=409,
            )
        try:
            with transaction.atomic():
                _delete_row(locked)
                connection.check_constraints()  # a reference added meanwhile fails here
        except IntegrityError as exc:
            raise RuleViolation("policy_in_use", f"'{locked.name}' was just put to use.", status=409) from exc


def _delete_row(policy: SlaPolicy) -> None:
    """Delete one policy row. Django's deletion collector would look for the tenant tables that
    reference policies in the public schema, where they do not exist; the references were
    checked above, so the row goes directly, with the signals the collector sends (the audit
    trail records the deletion from ``post_delete``)."""
    using = connection.alias
    pre_delete.send(sender=SlaPolicy, instance=policy, using=using, origin=policy)
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(SlaPolicy._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [policy.pk])  # noqa: S608
    post_delete.send(sender=SlaPolicy, instance=policy, using=using, origin=policy)
