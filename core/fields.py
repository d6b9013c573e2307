"""Form fields over ``core.parsers``: what the console's and the portal's forms and the list
filters (``serviflow.filters``) read input with, so a page refuses bad input exactly as the API
does, with a message naming the field, and never hands a value downstream that could overflow
or carry a NUL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core import parsers


class ParsedField(forms.CharField):
    """A text input read by one of ``core.parsers`` (``parse``); an empty one is ``empty``. The
    parser's refusal becomes the field's own error."""

    empty: Any = None

    def parse(self, value: Any) -> Any:
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return self.empty
        try:
            return self.parse(value)
        except ValidationError as exc:
            messages = [message for messages in exc.message_dict.values() for message in messages]
            raise ValidationError(messages) from None


class IdField(ParsedField):
    """An object id: ASCII digits within bigint (``"²"``, ``"٣"``, ``"+3"`` are refused)."""

    def __init__(self, *, what: str = "an id", **kwargs: Any) -> None:
        self.what = what
        super().__init__(**kwargs)

    def parse(self, value: Any) -> int:
        return parsers.parse_id(value, field="value", what=self.what)


class IntegerField(ParsedField):
    """A whole number in ASCII digits within ``minimum``..``maximum`` (``forms.IntegerField``
    would take "٣" and "+3")."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        super().__init__(**kwargs)

    def parse(self, value: Any) -> int:
        return parsers.parse_int(value, field="value", minimum=self.minimum, maximum=self.maximum)


class IdOrWordField(ParsedField):
    """An object id or one of a few words (``me``, ``none``): the int or the word."""

    def __init__(self, *, words: Iterable[str], what: str = "an id", **kwargs: Any) -> None:
        self.words = tuple(words)
        self.what = what
        super().__init__(**kwargs)

    def parse(self, value: Any) -> int | str:
        text = parsers.clean_text(value, field="value").strip()
        if text in self.words:
            return text
        if parsers.is_id(text):
            return int(text)
        raise ValidationError(
            {"value": [f"'{text[:40]}' is not {self.what}; use an id or {' or '.join(self.words)}."]}
        )


class IdOrNameField(ParsedField):
    """An object named by id or by name (``parsers.parse_id_or_name``)."""

    def parse(self, value: Any) -> parsers.IdOrName | None:
        return parsers.parse_id_or_name(value, field="value", max_length=self.max_length or 200)


class ChoicesField(ParsedField):
    """A comma-separated list of known values (``open,pending``)."""

    empty: tuple[str, ...] = ()

    def __init__(
        self, *, allowed: Iterable[str] | None = None, pattern: str | None = None, **kwargs: Any
    ) -> None:
        self.allowed = tuple(allowed) if allowed is not None else None
        self.pattern = pattern
        super().__init__(**kwargs)

    def parse(self, value: Any) -> tuple[str, ...]:
        return parsers.parse_choices(value, field="value", allowed=self.allowed, pattern=self.pattern)


class DayField(ParsedField):
    """``YYYY-MM-DD`` within range."""

    def parse(self, value: Any) -> Any:
        return parsers.parse_date_value(value, field="value")


class FlagField(ParsedField):
    """``true``/``false`` in a query string (a checkbox is ``forms.BooleanField``)."""

    empty = False

    def parse(self, value: Any) -> bool:
        return parsers.parse_flag(value, field="value")


class OneOfField(forms.ChoiceField):
    """One of a few values; a refusal lists them ("Use one of open, closed, not 'x'.")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        allowed = ", ".join(str(key) for key, _ in list(self.choices))  # type: ignore[arg-type]
        self.error_messages["invalid_choice"] = f"Use one of {allowed}, not '%(value)s'."


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


class LinesField(ParsedField):
    """Several short values in a text box, one per line (commas and spaces separate too), as a
    list without empties: mail domains, host names. Each value is judged by the workflow."""

    empty: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
        super().__init__(**kwargs)

    def parse(self, value: Any) -> tuple[str, ...]:
        text = parsers.clean_text(value, field="value")
        return tuple(word for word in re.split(r"[\s,;]+", text) if word)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value


class JSONField(forms.JSONField):
    """``forms.JSONField`` that refuses what ``core.parsers.json_problem`` refuses (nesting a
    parser would recurse too deep into, a NUL) before parsing: a field error, never a 500."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not self.disabled:
            problem = parsers.json_problem(value.encode())
            if problem:
                raise ValidationError(problem, code="invalid")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if isinstance(data, str) and not self.disabled and parsers.json_problem(data.encode()):
            return forms.fields.InvalidJSONInput(data)  # redisplayed as typed, never parsed
        return super().bound_data(data, initial)
