"""The OpenAPI description of what every operation may answer besides its success.

One mechanism for the whole API (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``): each operation gets
the error responses the shared machinery can produce for it, all with the error envelope
(``serviflow.api.errors``), so no view repeats them. A view documents only what is its own (its
success bodies, a 429 or a 402 of its own) with ``extend_schema``; those are kept as they are.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import parsers, serializers

from serviflow.api.serializers import StrictInputMixin

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ErrorSerializer(serializers.Serializer[Any]):
    """Every API error: a machine code, a sentence for a person and, for invalid input, the
    messages per field."""

    code = serializers.CharField(
        help_text="Machine-readable, e.g. `invalid`, `not_found`, `day_pass_required`."
    )
    detail = serializers.CharField(help_text="A sentence for a person.")
    fields = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.fields
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Only for invalid input: field name -> messages.",
    )


def error(description: str) -> OpenApiResponse:
    """An error response of a view's own, for ``extend_schema(responses={...})``."""
    return OpenApiResponse(response=ErrorSerializer, description=description)


ERRORS = {
    "400": "Bad input: `invalid` (with `fields`), `parse_error`, or a rule's own code.",
    "401": "Not signed in, or the token is invalid or revoked.",
    "402": "`day_pass_required`: an occasional agent without a pass while the pool is empty.",
    "403": "Signed in but not allowed to do this.",
    "404": "No such object, or one the caller may not see (another customer's included).",
    "409": "The request conflicts with the current state (a rule's own code).",
    "415": "The request body is not in a media type this operation accepts.",
}

DAY_PASS_HEADER = {
    "X-Day-Pass": {
        "schema": {"type": "string", "enum": ["consumed"]},
        "description": "Present when this call consumed an occasional agent's day pass.",
    }
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            self._ids_are_integers(operation)
            self._add_error_responses(operation)
        return operation

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        """A request body may hold only the fields its serializer declares: the input bases
        (``serviflow.api.serializers``) answer 400 for any other."""
        schema: dict[str, Any] = super()._map_serializer(serializer, direction, bypass_extensions)  # type: ignore[no-untyped-call]
        if direction == "request" and isinstance(serializer, StrictInputMixin):
            schema["additionalProperties"] = False
        return schema

    def _ids_are_integers(self, operation: dict[str, Any]) -> None:
        """Objects are addressed by their integer ids (``{id}``, ``{ticket_pk}``), whatever the
        URL converter that reads them."""
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] == "path" and (name == "id" or name.endswith("_pk")):
                parameter["schema"] = {"type": "integer"}

    def _get_paginator(self) -> Any:
        """Only a GET pages; a POST that answers several objects answers a plain array."""
        return super()._get_paginator() if self.method == "GET" else None  # type: ignore[no-untyped-call]

    def map_parsers(self) -> list[Any]:
        """JSON wherever a view reads JSON (also what forms could say, but not their null or
        nested values); multipart only where a view takes files and nothing else."""
        kinds = self.view.get_parsers()
        if any(isinstance(p, parsers.JSONParser) for p in kinds):
            return [parsers.JSONParser.media_type]
        return [p.media_type for p in kinds if isinstance(p, parsers.MultiPartParser)]

    def _secured(self, operation: dict[str, Any]) -> bool:
        return any(requirement for requirement in operation.get("security", [{}]))

    def _takes_input(self, operation: dict[str, Any]) -> bool:
        takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        return takes_query or "requestBody" in operation

    def _get_parameters(self) -> list[dict[str, Any]]:
        """An optional query parameter may be sent empty: that is not giving it
        (``serviflow.api.views.without_empty_values``)."""
        parameters: list[dict[str, Any]] = super()._get_parameters()
        filters = getattr(getattr(self.view, "filterset_class", None), "base_filters", {})
        for parameter in parameters:
            if parameter.get("in") != "query":
                continue
            if not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            # a list filter says exactly what it reads (serviflow.filters: parameter_schema)
            described = getattr(filters.get(parameter["name"]), "parameter_schema", None)
            if described is not None:
                for key in ("style", "explode"):
                    parameter.pop(key, None)
                parameter.update(described())
        return parameters

    def _add_error_responses(self, operation: dict[str, Any]) -> None:
        secured = self._secured(operation)
        takes_pass = secured and not getattr(self.view, "gates_exempt", True)
        wanted = {
            "400": self._takes_input(operation),
            "401": True,
            "402": takes_pass,
            "403": secured,
            "404": True,
            "409": self.method in UNSAFE,
            "415": "requestBody" in operation,
        }
        responses: dict[str, Any] = operation["responses"]
        envelope = self._error_schema()
        for code, needed in wanted.items():
            if needed and code not in responses:
                responses[code] = {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": envelope}},
                }
        if takes_pass:
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(DAY_PASS_HEADER)
        operation["responses"] = dict(sorted(responses.items()))

    def _error_schema(self) -> dict[str, Any]:
        component: ResolvedComponent = self.resolve_serializer(ErrorSerializer, "response")
        ref: dict[str, Any] = component.ref
        return ref
