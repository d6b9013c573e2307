"""JSON bodies are read with the types the schema gives them.

DRF's fields coerce: a text field takes ``5`` as ``"5"``, a boolean takes ``"yes"`` or ``1``, an
integer or a primary key takes ``"7"``. That suits forms, where everything is text, but a JSON
client sending those has a bug that the API should name. So the API's JSON parser marks what it
parsed (``JsonBody``), and serializers with ``StrictJsonMixin`` check every given value's JSON type
against its field before DRF's own validation; forms, and dicts built by pages, are untouched.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import fields, parsers, relations, serializers


class JsonBody(dict[str, Any]):
    """A request body as the API's JSON parser read it (the top-level object)."""


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        # Forms have Django's limit (DATA_UPLOAD_MAX_MEMORY_SIZE); a JSON body read from the stream
        # had none: the same limit, the same error (serviflow.api.errors makes it the envelope).
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length and length.isascii() and length.isdigit() and int(length) > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        data = super().parse(stream, media_type, parser_context)
        return JsonBody(data) if isinstance(data, dict) else data


_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
_NAMES |= {list: "a list", dict: "an object"}


def _json_types(field: fields.Field[Any, Any, Any, Any]) -> tuple[type, ...] | None:
    """The JSON types a field takes, as the schema says them; None for any."""
    declared: tuple[type, ...] | None = getattr(field, "json_types", None)
    if declared is not None:
        return declared
    if isinstance(field, fields.BooleanField):
        return (bool,)
    if isinstance(field, fields.IntegerField | relations.PrimaryKeyRelatedField):
        return (int,)
    if isinstance(field, fields.FloatField):
        return (int, float)
    if isinstance(field, fields.ChoiceField):
        return tuple({type(key) for key in field.choices}) or None
    text_fields = (
        fields.CharField,
        fields.DateField,
        fields.DateTimeField,
        fields.TimeField,
        fields.DurationField,
        fields.UUIDField,
        relations.SlugRelatedField,
    )
    if isinstance(field, text_fields):
        return (str,)
    if isinstance(field, fields.ListField | serializers.ListSerializer | relations.ManyRelatedField):
        return (list,)
    if isinstance(field, fields.DictField | serializers.Serializer):
        return (dict,)
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)


def type_errors(field: fields.Field[Any, Any, Any, Any], value: Any, path: str) -> dict[str, list[str]]:
    """Where ``value`` (for ``field``, at ``path``) has a JSON type the field does not take."""
    if value is None:
        return {}  # null is the field's own business (allow_null)
    kinds = _json_types(field)
    if kinds is not None and not _is(value, kinds):
        wanted = " or ".join(_NAMES.get(kind, kind.__name__) for kind in kinds)
        return {path: [f"Give {wanted}."]}
    errors: dict[str, list[str]] = {}
    if isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            if not child.read_only and name in value:
                errors |= type_errors(child, value[name], f"{path}.{name}" if path else name)
    elif isinstance(field, serializers.ListSerializer | fields.ListField) and field.child is not None:
        for index, item in enumerate(value):
            errors |= type_errors(field.child, item, f"{path}[{index}]")
    elif isinstance(field, fields.DictField):
        for key, item in value.items():
            errors |= type_errors(field.child, item, f"{path}.{key}")
    elif _has_nul(value):  # DRF's text fields refuse it too; free-form JSON would reach PostgreSQL
        errors[path] = ["Text may not contain NUL characters."]
    return errors


class StrictJsonMixin:
    """For request serializers: a JSON body's values must have their fields' JSON types."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, JsonBody):
            errors = type_errors(self, dict(data), "")  # type: ignore[arg-type]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]
