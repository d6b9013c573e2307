"""Bases of every serializer that reads a request body.

- A field the serializer does not know is a 400 naming it, never silently ignored (a typo such
  as ``{"priorty": "P1"}`` would otherwise "succeed" and change nothing). Fields it knows but
  only shows (``id``, ``created_at``) may be sent back as they were read; they are ignored.
  ``accepts`` names further inputs a view reads itself (multipart files).
- A JSON body's values must have the JSON types their fields take (``serviflow.api.strict``:
  ``"5"`` is not a number, ``1`` is not ``true``); forms are text and are read as such."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers

from serviflow.api.strict import StrictJsonMixin

UNKNOWN_FIELD = "Unknown field; check its name against the API documentation."


class StrictInputMixin:
    accepts: ClassVar[tuple[str, ...]] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = set(self.fields) | set(self.accepts)  # type: ignore[attr-defined]
            unknown = sorted(str(name) for name in data if name not in known)
            if unknown:
                raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictInputMixin, StrictJsonMixin, serializers.Serializer[Any]):
    pass


class InputModelSerializer(StrictInputMixin, StrictJsonMixin, serializers.ModelSerializer[Any]):
    pass
