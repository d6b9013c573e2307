"""Writing automation rules, and the dry run.

- Rules are written by provider admins (api.md: ``…/automations/`` and ``/api/v1/automations/``);
  the one who creates a rule owns it, and its actions run as them.
- A rule's body is checked by ``automations.language`` (each refusal names the condition or
  action); ids in actions must be people who may be named there (``_id_check``).
- Saves are audited (``audit.registry``), in the customer's trail for a customer's rule and in
  the provider's for a provider-wide one; every write forgets the cached rules it changes.
- The dry run replays a rule on the customer's tickets of the last 30 days and reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from accounts.models import User
from automations.engine import LoadedRule, rules_forget
from automations.language import (
    ROUND_ROBIN,
    Facts,
    IdCheck,
    Refused,
    action_sentence,
    actions_clean,
    conditions_clean,
    matches,
    wait_clean,
)
from automations.models import Event, Rule
from automations.timed import waited_since
from core.changes import UNSET, Changes
from notifications.configure import provider_staff
from notifications.rules import audience
from tenants.access import ticket_workers
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.index.services import display_number
from tickets.models import Comment, Party, Ticket

NAME_MAX = 80
DRY_RUN_DAYS = 30
DRY_RUN_MAX = 500  # tickets listed


@dataclass(frozen=True)
class RuleFields(Changes):
    """A rule's body as given; UNSET fields are not touched (PATCH)."""

    name: str = UNSET
    event: str = UNSET
    conditions: Any = UNSET
    actions: Any = UNSET
    wait: Any = UNSET
    enabled: bool = UNSET
    position: int = UNSET


def _id_check(customer: Customer | None) -> IdCheck:
    """Ids named by actions: an agent to assign must work the customer's tickets (any
    customer's, for a provider rule: provider staff); a person to notify must be allowed to see
    the customer (``notifications.rules.audience``; a provider rule: provider staff only, and
    each ticket's customer's audience again at delivery)."""

    def check(what: str, noun: str, ids: list[int]) -> None:
        if noun == "agent":
            people = ticket_workers(customer) if customer is not None else provider_staff()
        else:
            people = audience(customer) if customer is not None else provider_staff()
        found = set(people.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise Refused(f"user {missing[0]} is not {what}.")

    return check


ADMINS_ONLY = "Only provider admins change automation rules."


def _require_admin(by: User) -> None:
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied(ADMINS_ONLY)


def _clean(customer: Customer | None, rule: Rule, given: dict[str, Any]) -> None:
    """Apply ``given`` to ``rule`` checked: the name, the event, and the body by the language."""
    if "name" in given:
        name = (given["name"] or "").strip()
        if not name or len(name) > NAME_MAX:
            raise ValidationError({"name": [f"A rule needs a name of 1 to {NAME_MAX} characters."]})
        rule.name = name
    if "event" in given:
        if given["event"] not in Event.values:
            raise ValidationError(
                {"event": [f"'{given['event']}' is not an event; use {', '.join(Event.values)}."]}
            )
        rule.event = given["event"]
    if "conditions" in given:
        rule.conditions = conditions_clean(given["conditions"])
    if "actions" in given:
        rule.actions = actions_clean(given["actions"], _id_check(customer))
    if "enabled" in given:
        rule.enabled = bool(given["enabled"])
    if "position" in given:
        rule.position = given["position"]
    if rule.event == Event.TIME:
        raw = given.get("wait", rule.wait)
        if raw is None:
            raise ValidationError({"wait": ['A time rule needs wait: {"status", "for", "unit"}.']})
        rule.wait = wait_clean(raw)
    elif given.get("wait") is not None:
        raise ValidationError({"wait": ["Only a time rule waits; leave wait out or null."]})
    else:
        rule.wait = None


def _save(rule: Rule) -> Rule:
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError({"name": [f"There is already a rule named '{rule.name}' here."]}) from None
    rules_forget(rule.customer_id)
    return rule


def rule_create(*, by: User, customer: Customer | None, fields: RuleFields) -> Rule:
    """A new rule owned by ``by``; without a position it goes last."""
    _require_admin(by)
    given = fields.given()
    for required in ("name", "event", "actions"):
        if required not in given:
            raise ValidationError({required: ["This field is required."]})
    rule = Rule(customer=customer, owner=by, conditions=[])
    _clean(customer, rule, given)
    if "position" not in given:
        last = Rule.objects.filter(customer=customer).aggregate(last=Max("position"))["last"]
        rule.position = 0 if last is None else last + 1
    return _save(rule)


def rule_update(*, by: User, rule: Rule, fields: RuleFields) -> Rule:
    _require_admin(by)
    _clean(rule.customer, rule, fields.given())
    return _save(rule)


def rule_delete(*, by: User, rule: Rule) -> None:
    _require_admin(by)
    customer_id = rule.customer_id
    rule.delete()
    rules_forget(customer_id)


# --- the dry run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    ticket: int
    reference: str
    subject: str
    actions: list[str]

    def as_json(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def rule_dry_run(*, rule: Rule, customer: Customer) -> list[Match]:
    """What ``rule`` would do to ``customer``'s tickets created in the last 30 days, as they are
    now: each ticket that meets the conditions (for a reply rule, one the customer replied on;
    for a time rule, one that has waited long enough), with the actions in words. Reads only:
    no ticket, pointer, log or audit entry is written."""
    since = timezone.now() - timedelta(days=DRY_RUN_DAYS)
    loaded = LoadedRule.of(rule)
    names = dict(
        User.objects.filter(
            pk__in=[a["to"] for a in rule.actions if a.get("to") not in (None, ROUND_ROBIN)]
        ).values_list("pk", "name")
    )
    names |= dict(
        User.objects.filter(pk__in=[pk for a in rule.actions for pk in a.get("users", [])]).values_list(
            "pk", "name"
        )
    )
    sentences = [action_sentence(action, names) for action in loaded.actions]
    now = timezone.now()
    found: list[Match] = []
    with customer_schema(customer):
        tickets = Ticket.objects.filter(created_at__gte=since).order_by("-created_at", "-id")
        if rule.event == Event.CUSTOMER_REPLY:  # only where the customer did reply
            replied = Comment.objects.filter(ticket=OuterRef("pk"), public=True, author_party=Party.CUSTOMER)
            tickets = tickets.filter(Exists(replied))
        for ticket in tickets.iterator(chunk_size=500):
            if not matches(loaded.conditions, Facts.of(ticket)):
                continue
            if loaded.wait is not None and waited_since(ticket, loaded.wait, now) is None:
                continue
            found.append(Match(ticket.pk, display_number(customer, ticket.number), ticket.subject, sentences))
            if len(found) >= DRY_RUN_MAX:
                break
    return found
