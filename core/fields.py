"""Form fields over ``core.parsers``: what the console's and the portal's forms and the list
filters (``serviflow.filters``) read input with, so a page refuses bad input exactly as the API
does, with a message naming the field, and never hands a value downstream that could overflow
or carry a NUL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core import parsers


def _one(exc: ValidationError) -> ValidationError:
    """A parser's ``{field: [message]}`` as the field's own error."""
    return ValidationError([message for messages in exc.message_dict.values() for message in messages])


class IdField(forms.Field):
    """An object id: ASCII digits within bigint (``"²"``, ``"٣"``, ``"+3"`` are refused)."""

    def __init__(self, *, what: str = "an id", **kwargs: Any) -> None:
        self.what = what
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_id(value, field="value", what=self.what)
        except ValidationError as exc:
            raise _one(exc) from None


class OneOfField(forms.ChoiceField):
    """One of a few values; a refusal lists them ("Use one of open, closed, not 'x'.")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        allowed = ", ".join(str(key) for key, _ in list(self.choices))  # type: ignore[arg-type]
        self.error_messages["invalid_choice"] = f"Use one of {allowed}, not '%(value)s'."


class IntegerField(forms.CharField):
    """A whole number in ASCII digits within ``minimum``..``maximum`` (``forms.IntegerField``
    would take "٣" and "+3")."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_int(value, field="value", minimum=self.minimum, maximum=self.maximum)
        except ValidationError as exc:
            raise _one(exc) from None


class IdOrWordField(forms.CharField):
    """An object id or one of a few words (``me``, ``none``): the int or the word."""

    def __init__(self, *, words: Iterable[str], what: str = "an id", **kwargs: Any) -> None:
        self.words = tuple(words)
        self.what = what
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | str | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        if text in self.words:
            return text
        if parsers.is_id(text):
            return int(text)
        shown = text[:40]
        raise ValidationError(f"'{shown}' is not {self.what}; use an id or {' or '.join(self.words)}.")


class IdOrNameField(forms.CharField):
    """An object named by id or by name (``parsers.parse_id_or_name``)."""

    def to_python(self, value: Any) -> parsers.IdOrName | None:  # type: ignore[override]
        try:
            return parsers.parse_id_or_name(value, field="value", max_length=self.max_length or 200)
        except ValidationError as exc:
            raise _one(exc) from None


class ChoicesField(forms.CharField):
    """A comma-separated list of known values (``open,pending``)."""

    def __init__(self, *, allowed: Iterable[str] | None = None, **kwargs: Any) -> None:
        self.allowed = tuple(allowed) if allowed is not None else None
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> tuple[str, ...]:  # type: ignore[override]
        try:
            return parsers.parse_choices(value, field="value", allowed=self.allowed)
        except ValidationError as exc:
            raise _one(exc) from None


class MonthField(forms.CharField):
    """``YYYY-MM`` as the month's first day, within ``parsers.EARLIEST``..``LATEST``."""

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_month(value, field="value")
        except ValidationError as exc:
            raise _one(exc) from None


class DayField(forms.CharField):
    """``YYYY-MM-DD`` within range."""

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_date_value(value, field="value")
        except ValidationError as exc:
            raise _one(exc) from None


class InstantField(forms.CharField):
    """An ISO 8601 instant with an offset, within range."""

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_instant(value, field="value")
        except ValidationError as exc:
            raise _one(exc) from None


class ZoneField(forms.CharField):
    """An IANA time zone name (never ``localtime``)."""

    default_validators = [parsers.validate_timezone]


class FlagField(forms.CharField):
    """``true``/``false`` in a query string (a checkbox is ``forms.BooleanField``)."""

    def to_python(self, value: Any) -> bool:  # type: ignore[override]
        if value in self.empty_values:
            return False
        try:
            return parsers.parse_flag(value, field="value")
        except ValidationError as exc:
            raise _one(exc) from None


class JsonTextField(forms.CharField):
    """JSON typed into a text area, depth-checked before it is parsed."""

    def to_python(self, value: Any) -> object:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            return parsers.parse_json_text(value, field="value")
        except ValidationError as exc:
            raise _one(exc) from None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Several files under one name (``<input type=file multiple>``), as a list; none is fine."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(FilesField, self).clean(item, initial) for item in files]
