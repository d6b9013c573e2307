"""Serializer fields over ``core.parsers``, for input the API reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from core.parsers import check_instant


class InstantField(serializers.DateTimeField):
    """An ISO 8601 instant with an offset, within ``core.parsers.EARLIEST``..``LATEST`` (an
    instant at the edge of what Python represents would overflow the engine's arithmetic)."""

    def to_internal_value(self, value: Any) -> datetime:
        at = super().to_internal_value(value)
        try:
            return check_instant(at, field="value")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["value"]) from None
