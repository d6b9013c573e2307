"""A request type's form and the values a ticket gives it: the one check every channel uses (the
API, the console, the portal, the email channel and automation rules).

A form is a list of field definitions (``FieldDef``), stored as JSON in an immutable
``RequestForm`` version. Kinds:

- ``text`` (one line, at most 500 characters) and ``long_text`` (at most 10,000 characters);
- ``number`` (an integer or a decimal, stored as a JSON number);
- ``date`` (stored as ``"YYYY-MM-DD"``);
- ``choice`` (one of ``choices``) and ``multi_choice`` (a list of them, in the form's order);
- ``user`` (an active user of this customer, ``people.CustomerUser``, by id or email; stored as the id);
- ``ci`` (the id of a configuration item of this customer that is in use; a customer user who
  is not an admin names only the ones they own, ``cmdb.selectors.cis_visible``).

Every problem is a ``ValidationError`` keyed ``fields.<key>`` whose message names the field by its
label, so the API's 400 and a page's form error both say which field is wrong.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from cmdb.models import ConfigurationItem
from cmdb.selectors import cis_visible
from core.parsers import clean_text, is_id, parse_date_value
from people.models import CustomerUser
from tenants.access import CustomerAccess

MAX_FIELDS = 40
MAX_CHOICES = 100
LABEL_MAX = 100
HELP_MAX = 300
CHOICE_MAX = 100
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_KEY = re.compile(KEY_PATTERN)
TEXT_MAX = 500
LONG_TEXT_MAX = 10_000
NUMBER_MAX = Decimal("1e15")
MAX_LINES_READ = 200  # of a message's text, for ``values_from_text``


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    USER = "user", "User of this customer"
    CI = "ci", "CI of this customer"


ATTRIBUTES = frozenset({"key", "label", "kind", "required", "customer_visible", "help_text", "choices"})
CHOICE_KINDS = frozenset({FieldKind.CHOICE, FieldKind.MULTI_CHOICE})


@dataclass(frozen=True)
class FieldDef:
    """One field of a form, as a version stores it."""

    key: str
    label: str
    kind: str
    required: bool = False
    customer_visible: bool = True
    help_text: str = ""
    choices: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldDef:
        return cls(
            key=data["key"],
            label=data["label"],
            kind=data["kind"],
            required=bool(data.get("required", False)),
            customer_visible=bool(data.get("customer_visible", True)),
            help_text=data.get("help_text", ""),
            choices=tuple(data.get("choices") or ()),
        )


def form_fields(definitions: list[dict[str, Any]] | None) -> list[FieldDef]:
    """A stored version's definitions, as ``FieldDef``."""
    return [FieldDef.from_json(item) for item in definitions or []]


def visible_fields(definitions: list[FieldDef], *, customer_side: bool) -> list[FieldDef]:
    """The fields a reader sees: customer-side people only those the customer sees."""
    return [field for field in definitions if field.customer_visible or not customer_side]


# --- the form itself ------------------------------------------------------------------------------


def _definition_error(index: int, message: str) -> ValidationError:
    return ValidationError({f"fields[{index}]": [message]})


def definitions_clean(raw: object) -> list[FieldDef]:
    """A form's field definitions as an admin gave them (a list of objects), checked: keys are
    unique lower-case identifiers, kinds known, choice kinds have choices and others none."""
    if not isinstance(raw, list):
        raise ValidationError({"fields": ["Give a list of field definitions."]})
    if len(raw) > MAX_FIELDS:
        raise ValidationError({"fields": [f"At most {MAX_FIELDS} fields (got {len(raw)})."]})
    cleaned: list[FieldDef] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _definition_error(index, "Each field is an object {key, label, kind, ...}.")
        if unknown := sorted(str(name)[:40] for name in set(item) - ATTRIBUTES):
            raise _definition_error(index, f"Unknown attribute(s): {', '.join(unknown)}.")
        key = clean_text(item.get("key") or "", field=f"fields[{index}].key").strip()
        if not _KEY.fullmatch(key):
            raise _definition_error(
                index, f"Key '{key[:40]}' must start with a-z and hold only a-z, 0-9 and _ (at most 40)."
            )
        if key in seen:
            raise _definition_error(index, f"Key '{key}' is used twice.")
        seen.add(key)
        label = clean_text(item.get("label") or "", field=f"fields[{index}].label").strip()
        if not label or len(label) > LABEL_MAX:
            raise _definition_error(index, f"Field '{key}' needs a label of 1 to {LABEL_MAX} characters.")
        kind = item.get("kind")
        if kind not in FieldKind.values:
            raise _definition_error(
                index, f"Field '{key}': kind '{str(kind)[:40]}' is not one of {', '.join(FieldKind.values)}."
            )
        help_text = clean_text(item.get("help_text") or "", field=f"fields[{index}].help_text").strip()
        if len(help_text) > HELP_MAX:
            raise _definition_error(index, f"Field '{key}': help text of at most {HELP_MAX} characters.")
        for flag in ("required", "customer_visible"):
            if flag in item and not isinstance(item[flag], bool):
                raise _definition_error(index, f"Field '{key}': {flag} is true or false.")
        choices = _choices_clean(index, key, kind, item.get("choices"))
        cleaned.append(
            FieldDef(
                key=key,
                label=label,
                kind=kind,
                required=item.get("required", False),
                customer_visible=item.get("customer_visible", True),
                help_text=help_text,
                choices=choices,
            )
        )
    return cleaned


def _choices_clean(index: int, key: str, kind: str, raw: object) -> tuple[str, ...]:
    if kind not in CHOICE_KINDS:
        if raw:
            raise _definition_error(index, f"Field '{key}': only choice fields have choices.")
        return ()
    if not isinstance(raw, list) or not raw:
        raise _definition_error(index, f"Field '{key}': give its choices as a list of texts.")
    if len(raw) > MAX_CHOICES:
        raise _definition_error(index, f"Field '{key}': at most {MAX_CHOICES} choices.")
    choices: list[str] = []
    for value in raw:
        if not isinstance(value, str):
            raise _definition_error(index, f"Field '{key}': each choice is a text.")
        text = clean_text(value, field=f"fields[{index}].choices").strip()
        if not text or len(text) > CHOICE_MAX or text in choices:
            raise _definition_error(
                index, f"Field '{key}': choices are distinct texts of 1 to {CHOICE_MAX} characters."
            )
        choices.append(text)
    return tuple(choices)


# --- values ---------------------------------------------------------------------------------------


def _invalid(field: FieldDef, message: str) -> ValidationError:
    return ValidationError({f"fields.{field.key}": [f"{field.label}: {message}"]})


def is_empty(value: object) -> bool:
    """A value that clears a field (null, "", [])."""
    return value is None or value == "" or value == []


NUMBER_PATTERN = r"-?[0-9]{1,16}(\.[0-9]{1,6})?"
_NUMBER = re.compile(NUMBER_PATTERN)


def parse_number(text: str) -> int | float | None:
    """A number field's value as written (``12``, ``-4.5``: at most 16 digits and 6 decimals) as
    it is stored (an int when whole, else a float); None for anything else."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    number = Decimal(text)  # the pattern admits only decimals
    return int(number) if number == number.to_integral_value() else float(number)


def clean_values(
    definitions: list[FieldDef],
    raw: object,
    *,
    customer_side: bool,
    partial: bool = False,
    previous: dict[str, Any] | None = None,
    required: bool = True,
    access: CustomerAccess | None = None,
) -> dict[str, Any]:
    """The values ``raw`` (a ``{key: value}`` object) gives a form, checked and normalised.

    ``customer_side`` callers may set only the fields the customer sees (the others they give are
    refused by name), and the fields they do not see are not required of them. ``partial`` (a
    change of some values): the keys not given keep ``previous``; the required check applies to
    the result (``required=False``: not at all, for a channel that cannot ask, email). Empty
    values (null, "", []) clear a field. ``access``: who gives the values; customer-side people
    may name only the CIs they see (``cmdb.selectors.cis_visible``)."""
    reader = access if customer_side else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError({"fields": ["Give the custom fields as an object {key: value}."]})
    by_key = {field.key: field for field in definitions}
    unknown = [str(key)[:40] for key in raw if key not in by_key]
    if unknown:
        known = ", ".join(by_key) or "none"
        shown = ", ".join(unknown[:5])
        raise ValidationError({"fields": [f"Unknown field(s) {shown}; this form has: {known}."]})
    kept = (previous or {}) if partial else {}
    result: dict[str, Any] = {key: value for key, value in kept.items() if key in by_key}
    for key, value in raw.items():
        field = by_key[key]
        if customer_side and not field.customer_visible:
            raise _invalid(field, "only the service desk sets this field.")
        if is_empty(value):
            result.pop(key, None)
        else:
            result[key] = clean_value(field, value, reader=reader)
    for field in definitions if required else ():
        if field.required and field.key not in result and not (customer_side and not field.customer_visible):
            raise _invalid(field, "this field is required.")
    return result


def clean_value(field: FieldDef, value: object, *, reader: CustomerAccess | None = None) -> Any:
    """One value, for its field's kind (references to users and CIs are checked against the
    active customer's schema; a CI against what ``reader``, a customer-side person, sees)."""
    if field.kind == FieldKind.CI:
        return _ci(field, value, reader)
    checker = _CHECKERS[FieldKind(field.kind)]
    return checker(field, value)


def _text(field: FieldDef, value: object) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "give a text.")
    text = clean_text(value, field=f"fields.{field.key}").strip()
    limit = LONG_TEXT_MAX if field.kind == FieldKind.LONG_TEXT else TEXT_MAX
    if len(text) > limit:
        raise _invalid(field, f"at most {limit} characters (got {len(text)}).")
    if field.kind == FieldKind.TEXT and "\n" in text:
        raise _invalid(field, "one line only.")
    return text


def _number(field: FieldDef, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(field, "enter a number.")
    text = str(value).strip()
    number = parse_number(text)
    if number is None:
        raise _invalid(field, f"enter a number such as 12 or 4.5 (got {text[:40]!r}).")
    if abs(number) >= NUMBER_MAX:
        raise _invalid(field, "the number is too large.")
    return number


def _date(field: FieldDef, value: object) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "enter a date such as 2026-11-21.")
    try:
        day = parse_date_value(value, field=f"fields.{field.key}")
    except ValidationError:
        raise _invalid(field, f"enter a date such as 2026-11-21 (got {value[:40]!r}).") from None
    return day.isoformat()


def _choice(field: FieldDef, value: object) -> str:
    if not isinstance(value, str) or value.strip() not in field.choices:
        shown = str(value)[:40]
        raise _invalid(field, f"'{shown}' is not one of {', '.join(field.choices)}.")
    return value.strip()


def _multi_choice(field: FieldDef, value: object) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _invalid(field, "give a list of choices.")
    wrong = [item[:40] for item in items if item not in field.choices]
    if wrong:
        raise _invalid(field, f"{', '.join(wrong[:5])} not among {', '.join(field.choices)}.")
    chosen = set(items)
    return [choice for choice in field.choices if choice in chosen]


def _user(field: FieldDef, value: object) -> int:
    """A colleague by profile id or email (as when copying one on a ticket)."""
    people = CustomerUser.objects.filter(user__is_active=True)
    if is_id(value):
        found = people.filter(pk=int(str(value))).values_list("pk", flat=True).first()
    elif isinstance(value, str) and "@" in value and len(value) <= 254:
        found = people.filter(user__email__iexact=value.strip()).values_list("pk", flat=True).first()
    else:
        raise _invalid(field, "give the id or email of one of this customer's users.")
    if found is None:
        raise _invalid(field, f"no active user of this customer is {str(value)[:60]}.")
    return int(found)


def _ci(field: FieldDef, value: object, reader: CustomerAccess | None) -> int:
    """A CI in use that the reader sees (``cis_visible``: a customer user who is not an admin,
    the ones they own); None: a channel's or an agent's, any of the customer's."""
    if not is_id(value):
        raise _invalid(field, "give the id of one of this customer's configuration items.")
    cis = ConfigurationItem.objects.all() if reader is None else cis_visible(reader)
    ci = cis.filter(pk=int(str(value))).first()
    if ci is None or ci.is_retired:
        raise _invalid(field, f"no configuration item in use of this customer has id {value}.")
    return int(str(value))


_CHECKERS = {
    FieldKind.TEXT: _text,
    FieldKind.LONG_TEXT: _text,
    FieldKind.NUMBER: _number,
    FieldKind.DATE: _date,
    FieldKind.CHOICE: _choice,
    FieldKind.MULTI_CHOICE: _multi_choice,
    FieldKind.USER: _user,
}


def values_from_text(definitions: list[FieldDef], text: str) -> dict[str, str]:
    """The values a plain-text message gives the fields the customer sees, one per line as
    ``Label: value`` or ``key: value`` (case and surrounding spaces ignored; the first line
    naming a field wins). The email channel's way to fill a form; the values are checked by
    ``clean_values`` like any other."""
    names: dict[str, FieldDef] = {}
    for field in visible_fields(definitions, customer_side=True):
        names.setdefault(field.label.strip().lower(), field)
        names.setdefault(field.key, field)
    found: dict[str, str] = {}
    for line in text.splitlines()[:MAX_LINES_READ]:
        name, colon, value = line.partition(":")
        named = names.get(name.strip().lower()) if colon else None
        if named is not None and named.key not in found and value.strip():
            found[named.key] = value.strip()
    return found


def values_that_pass(definitions: list[FieldDef], raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The values of ``raw`` that pass ``clean_value`` alone, and a sentence for each refused
    one (a mail an agent sends on from triage keeps what it can)."""
    by_key = {field.key: field for field in definitions}
    kept: dict[str, Any] = {}
    refused: list[str] = []
    for key, value in raw.items():
        try:
            kept[key] = clean_value(by_key[key], value)
        except ValidationError as error:
            refused.extend(error.messages)
    return kept, refused


def value_shown(field: FieldDef, value: Any) -> str:
    """A stored value in words (pages, the CSV, the search document)."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)
