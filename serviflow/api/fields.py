"""Serializer fields for input the API reads, over ``core.parsers``, and whose schema says more
than DRF can infer: an instant within range, a time zone (one of the IANA names this server
accepts) and a reference to another object by id or by a unique text."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.parsers import DAY_PATTERN, check_instant, parse_date_value, zone_names


class InstantField(serializers.DateTimeField):
    """An ISO 8601 instant with an offset, within ``core.parsers.EARLIEST``..``LATEST`` (an
    instant at the edge of what Python represents would overflow the engine's arithmetic)."""

    def to_internal_value(self, value: Any) -> datetime:
        at = super().to_internal_value(value)
        try:
            return check_instant(at, field="value")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["value"]) from None


class DayField(serializers.DateField):
    """A calendar date ``YYYY-MM-DD`` (ASCII digits) within range, through ``core.parsers``."""

    def to_internal_value(self, value: Any) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            value = value.isoformat()
        try:
            return parse_date_value(value, field="value")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["value"]) from None


class DayFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = DayField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": DAY_PATTERN}


class TimezoneField(serializers.CharField):
    """An IANA time zone name. Requests are documented with the names this server accepts
    (``core.parsers.zone_names``; the services check them); responses as text, since a stored
    name may leave a later tzdata."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)


class TimezoneFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = TimezoneField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        if direction == "request":
            return {"type": "string", "enum": sorted(zone_names())}
        return {"type": "string", "example": "Europe/Berlin"}


class ReferenceField(serializers.CharField):
    """Another object of the customer, by id (a JSON number) or by ``text`` (its email, its
    name, or a word such as ``me``), resolved by the view."""

    json_types = (int, str)

    def __init__(self, *, text: dict[str, Any], **kwargs: Any) -> None:
        self.text_schema = text
        super().__init__(**kwargs)


class ReferenceFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = ReferenceField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field: ReferenceField = self.target
        choices: list[dict[str, Any]] = [
            {"type": "integer", "minimum": 1},
            {"type": "string", **field.text_schema},
        ]
        if field.allow_blank:
            choices.append({"type": "string", "maxLength": 0, "description": "none"})
        return {"anyOf": choices}
