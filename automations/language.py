"""The rule language: conditions on a ticket's fields and the actions a rule takes, as JSON.

Conditions (all must hold), each ``{"field": F, "op": O, "value": V}``:

- ``status`` and ``priority``: ``is``, ``is_not`` (a value), ``in``, ``not_in`` (a list);
- ``assignee`` (a user id, null for unassigned), ``requester`` (the requester's id, as tickets
  show it), ``ci`` and ``request_type`` (ids, null for none): the same four operators;
- ``subject``: ``contains``, ``not_contains``: a word or phrase, case-insensitively;
- ``fields.<key>``, a custom field of the ticket's request type: ``is``, ``is_not``, ``in``,
  ``not_in`` and ``contains`` (text, or one choice of a multi-choice), ``is_empty`` (true or false).

Actions, done in order, each ``{"action": A, ...}``:

- ``{"action": "set", "field": "status" | "priority" | "fields.<key>", "value": V}``;
- ``{"action": "assign", "to": <agent id> | "round_robin"}`` (round robin among the customer's
  member agents);
- ``{"action": "note", "body": "..."}``: a private note;
- ``{"action": "notify", "roles": [...], "users": [ids], "message": "..."}``: roles are those of
  the notification rules (requester, collaborators, assignee, member_agents, provider_admins,
  customer_admins);
- ``{"action": "close"}``: resolved first when it is not yet.

A time rule also has ``wait``: ``{"status": S, "for": N, "unit": "hours" | "business_hours" |
"business_days"}``; business time runs on the ticket's own SLA calendar (its business hours).

``conditions_clean``, ``actions_clean`` and ``wait_clean`` check a body and return it normalised;
every refusal names the condition or action by its place and says what is wrong (a
``ValidationError`` keyed ``conditions``, ``actions`` or ``wait``). Whatever the JSON (deep, odd
types, huge), the checks only ever look at the shapes they expect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError

from core.parsers import BIGINT_MAX
from notifications.models import Role
from tickets.models import Priority, Status, Ticket
from tickets.types.values import is_empty

MAX_CONDITIONS = 20
MAX_ACTIONS = 10
MAX_TEXT = 2_000  # a note's or a notice's text
MAX_VALUE = 200  # a compared text
MAX_LIST = 50  # the values of ``in``
ROUND_ROBIN = "round_robin"
_FIELD_KEY = re.compile(r"^fields\.([a-z][a-z0-9_]{0,39})$")

CHOICES = {"status": tuple(Status.values), "priority": tuple(Priority.values)}
IDS = ("assignee", "requester", "ci", "request_type")
SET_OPS = ("is", "is_not", "in", "not_in")
FIELD_OPS = (*SET_OPS, "contains", "is_empty")
TEXT_OPS = ("contains", "not_contains")
FIELDS = (*CHOICES, *IDS, "subject", "fields.<key>")
ACTIONS = ("set", "assign", "note", "notify", "close")
SETTABLE = ("status", "priority", "fields.<key>")
ROLES = tuple(Role.values)
UNITS = ("hours", "business_hours", "business_days")
WAIT_MAX = {"hours": 24 * 366, "business_hours": 24 * 366, "business_days": 366}


class Refused(Exception):
    """What is wrong with one condition or action (its place is added by the caller)."""


def _one_of(what: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = repr(value)[:60] if isinstance(value, (str, int, float, bool)) or value is None else "that"
        raise Refused(f"{shown} is not {what}; use one of {', '.join(allowed)}.")
    return value


def _id(value: object, *, nullable: bool) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= BIGINT_MAX:
        raise Refused("needs an id (a positive whole number)" + (" or null." if nullable else "."))
    return value


def _text(value: object, *, limit: int, what: str = "a text") -> str:
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"needs {what}.")
    if len(value) > limit or "\x00" in value:
        raise Refused(f"needs {what} of at most {limit} characters.")
    return value.strip()


def _scalar(value: object) -> str | int | float | bool:
    if isinstance(value, str):
        return _text(value, limit=MAX_VALUE, what="a value")
    if isinstance(value, (int, float, bool)) and abs(value) <= BIGINT_MAX:
        return value
    raise Refused("needs a text, a number or true/false.")


def _values(value: object, one: Callable[[object], Any]) -> Any:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise Refused(f"needs a list of 1 to {MAX_LIST} values.")
    return [one(item) for item in value]


def _field_name(field: object, *, allowed: tuple[str, ...]) -> str:
    if isinstance(field, str) and _FIELD_KEY.fullmatch(field) and "fields.<key>" in allowed:
        return field
    return _one_of("a field", field, allowed)


def _keys(item: dict[str, Any], *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(item) - set(required) - set(optional))
    if unknown:
        raise Refused(f"unknown key {unknown[0]!r}; it takes {', '.join((*required, *optional))}.")
    missing = [key for key in required if key not in item]
    if missing:
        raise Refused(f"'{missing[0]}' is required.")


def _condition(item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Refused('needs an object {"field", "op", "value"}.')
    _keys(item, required=("field", "op"), optional=("value",))
    field = _field_name(item["field"], allowed=FIELDS)
    ops = FIELD_OPS if field.startswith("fields.") else TEXT_OPS if field == "subject" else SET_OPS
    op = _one_of(f"an operator for {field}", item["op"], ops)
    if "value" not in item:
        raise Refused("'value' is required.")
    raw = item["value"]
    value: Any
    if field in CHOICES:
        one = partial(_one_of, f"a {field}", allowed=CHOICES[field])
        value = _values(raw, one) if op in ("in", "not_in") else one(raw)
    elif field in IDS:
        ident = partial(_id, nullable=True)
        value = _values(raw, ident) if op in ("in", "not_in") else ident(raw)
    elif field == "subject":
        value = _text(raw, limit=MAX_VALUE, what="a word or phrase")
    elif op == "is_empty":
        if not isinstance(raw, bool):
            raise Refused("is_empty takes true or false.")
        value = raw
    else:
        value = _values(raw, _scalar) if op in ("in", "not_in") else _scalar(raw)
    return {"field": field, "op": op, "value": value}


# Checks ids against the database: (what they must be, the noun, the ids) -> None or Refused.
IdCheck = Callable[[str, str, list[int]], None]


def _action(item: object, ids: IdCheck) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Refused('needs an object {"action", ...}.')
    if "action" not in item:
        raise Refused("'action' is required.")
    action = _one_of("an action", item["action"], ACTIONS)
    if action == "set":
        _keys(item, required=("action", "field", "value"))
        field = _field_name(item["field"], allowed=SETTABLE)
        if field in CHOICES:
            return {
                "action": action,
                "field": field,
                "value": _one_of(f"a {field}", item["value"], CHOICES[field]),
            }
        raw = item["value"]
        value = raw if raw is None else _values(raw, _scalar) if isinstance(raw, list) else _scalar(raw)
        return {"action": action, "field": field, "value": value}
    if action == "assign":
        _keys(item, required=("action", "to"))
        if item["to"] == ROUND_ROBIN:
            return {"action": action, "to": ROUND_ROBIN}
        agent = _id(item["to"], nullable=False)
        ids("an agent who works these tickets", "agent", [agent])  # type: ignore[list-item]
        return {"action": action, "to": agent}
    if action == "note":
        _keys(item, required=("action", "body"))
        return {"action": action, "body": _text(item["body"], limit=MAX_TEXT)}
    if action == "notify":
        _keys(item, required=("action",), optional=("roles", "users", "message"))
        roles = _values(item["roles"], lambda v: _one_of("a role", v, ROLES)) if item.get("roles") else []
        users = _values(item["users"], lambda v: _id(v, nullable=False)) if item.get("users") else []
        if not roles and not users:
            raise Refused("names no one; give roles, users or both.")
        if users:
            ids("a person of this customer or the provider", "person", users)
        message = _text(item.get("message") or "", limit=MAX_TEXT) if item.get("message") else ""
        return {"action": action, "roles": roles, "users": users, "message": message}
    _keys(item, required=("action",))
    return {"action": action}


def _listed(
    raw: object, name: str, most: int, clean: Callable[[object], dict[str, Any]]
) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ValidationError({name: [f"{name} must be a list."]})
    if len(raw) > most:
        raise ValidationError({name: [f"At most {most} {name} (got {len(raw)})."]})
    cleaned = []
    for index, item in enumerate(raw):
        try:
            cleaned.append(clean(item))
        except Refused as refusal:
            raise ValidationError({name: [f"{name}[{index}]: {refusal}"]}) from None
    return cleaned


def conditions_clean(raw: object) -> list[dict[str, Any]]:
    return _listed(raw, "conditions", MAX_CONDITIONS, _condition)


def actions_clean(raw: object, ids: IdCheck) -> list[dict[str, Any]]:
    actions = _listed(raw, "actions", MAX_ACTIONS, lambda item: _action(item, ids))
    if not actions:
        raise ValidationError({"actions": ["A rule needs at least one action."]})
    return actions


def wait_clean(raw: object) -> dict[str, Any]:
    try:
        if not isinstance(raw, dict):
            raise Refused('needs an object {"status", "for", "unit"}.')
        _keys(raw, required=("status", "for", "unit"))
        status = _one_of("a status", raw["status"], tuple(Status.values))
        unit = _one_of("a unit", raw["unit"], UNITS)
        amount = raw["for"]
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= WAIT_MAX[unit]:
            raise Refused(f"'for' needs a whole number of {unit} from 1 to {WAIT_MAX[unit]}.")
    except Refused as refusal:
        raise ValidationError({"wait": [f"wait: {refusal}"]}) from None
    return {"status": status, "for": amount, "unit": unit}


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What conditions look at, read once from a ticket."""

    values: dict[str, Any]
    subject: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, ticket: Ticket) -> Facts:
        return cls(
            values={
                "status": ticket.status,
                "priority": ticket.priority,
                "assignee": ticket.assignee_id,
                "requester": ticket.requester_id,
                "ci": ticket.ci_id,
                "request_type": ticket.request_type_id,
            },
            subject=ticket.subject.casefold(),
            fields=ticket.fields or {},
        )

    def value(self, field: str) -> Any:
        if field.startswith("fields."):
            return self.fields.get(field.removeprefix("fields."))
        return self.values[field]


def _holds(condition: dict[str, Any], facts: Facts) -> bool:
    field, op, wanted = condition["field"], condition["op"], condition["value"]
    if field == "subject":
        found = wanted.casefold() in facts.subject
        return found if op == "contains" else not found
    actual = facts.value(field)
    if op == "is_empty":
        return is_empty(actual) is wanted
    if op == "contains":
        if isinstance(actual, list):
            return wanted in actual
        return isinstance(actual, str) and isinstance(wanted, str) and wanted.casefold() in actual.casefold()
    if op in ("is", "is_not"):
        return (actual == wanted) is (op == "is")
    return (actual in wanted) is (op == "in")


def matches(conditions: list[dict[str, Any]], facts: Facts) -> bool:
    return all(_holds(condition, facts) for condition in conditions)


def action_sentence(action: dict[str, Any], names: dict[int, str] | None = None) -> str:
    """What an action does, in words (the dry run, the rule's page)."""
    kind = action["action"]
    if kind == "set":
        return f"set {action['field']} to {action['value']!r}"
    if kind == "assign":
        if action["to"] == ROUND_ROBIN:
            return "assign round-robin among the member agents"
        agent = action["to"]
        return f"assign to {(names or {}).get(agent, f'user {agent}')}"
    if kind == "note":
        return f"add a private note: {action['body'][:80]}"
    if kind == "notify":
        who = [*action["roles"], *[(names or {}).get(pk, f"user {pk}") for pk in action["users"]]]
        return f"notify {', '.join(who)}"
    return "close the ticket"
