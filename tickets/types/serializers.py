"""API representations of request types, their fields, the provider's library, and the
``request_type``/``fields`` of a ticket (api.md, milestone 2)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from serviflow.api.serializers import InputSerializer
from sla.serializers import PolicyField
from tenants.validators import SLUG_PATTERN
from tickets.library.models import LibraryRequestType
from tickets.models import Priority, RequestType
from tickets.types.values import (
    CHOICE_MAX,
    HELP_MAX,
    KEY_PATTERN,
    LABEL_MAX,
    MAX_CHOICES,
    MAX_FIELDS,
    FieldDef,
    FieldKind,
    definitions_clean,
    form_fields,
    visible_fields,
)


def priority_or_null() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=Priority.choices,
        allow_null=True,
        required=False,
        help_text="The priority new tickets of this type take unless one is given; null: none.",
    )


class FieldDefSerializer(InputSerializer):
    """One custom field of a form."""

    key = serializers.RegexField(
        KEY_PATTERN, max_length=40, help_text="a-z, 0-9 and _, starting with a letter; unique in the form."
    )
    label = serializers.CharField(max_length=LABEL_MAX)  # type: ignore[assignment]
    kind = serializers.ChoiceField(
        choices=FieldKind.choices,
        help_text="text (one line), long_text, number, date (YYYY-MM-DD), choice, multi_choice, "
        "user (a user of this customer, by id), ci (a CI of this customer, by id)",
    )
    required = serializers.BooleanField(default=False)  # type: ignore[assignment]
    choices = serializers.ListField(
        child=serializers.CharField(max_length=CHOICE_MAX),
        max_length=MAX_CHOICES,
        default=list,
        help_text="The options of a choice or multi_choice field (empty for the other kinds).",
    )
    customer_visible = serializers.BooleanField(
        default=True, help_text="Whether the customer's users see and fill the field."
    )
    help_text = serializers.CharField(max_length=HELP_MAX, allow_blank=True, default="")  # type: ignore[assignment]


class RequestTypeInputSerializer(InputSerializer):
    accepts = ("id", "version", "created_at", "updated_at")

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2_000, allow_blank=True, required=False)
    priority = priority_or_null()
    sla_policy = PolicyField(help_text="The SLA policy of tickets of this type (the hierarchy's step 4).")
    active = serializers.BooleanField(required=False, help_text="Inactive types are not offered.")
    position = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
    fields = serializers.ListField(  # type: ignore[assignment]
        child=FieldDefSerializer(),
        max_length=MAX_FIELDS,
        required=False,
        help_text="The form; saving different fields makes a new version (old tickets keep theirs).",
    )

    def validate_fields(self, value: list[dict[str, Any]]) -> list[FieldDef]:
        return definitions_clean(value)


class FieldSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=FieldKind.choices)
    required = serializers.BooleanField()  # type: ignore[assignment]
    choices = serializers.ListField(child=serializers.CharField())
    customer_visible = serializers.BooleanField()
    help_text = serializers.CharField()  # type: ignore[assignment]


class RequestTypeSerializer(serializers.ModelSerializer[RequestType]):
    """A type as its reader may see it: the customer's side only the fields the customer sees."""

    priority = serializers.SerializerMethodField()
    sla_policy = serializers.IntegerField(source="sla_policy_id", allow_null=True, read_only=True)
    version = serializers.SerializerMethodField(help_text="The current version of the form.")
    fields = serializers.SerializerMethodField(method_name="fields_of")  # type: ignore[assignment]

    class Meta:
        model = RequestType
        fields = [
            "id",
            "name",
            "description",
            "priority",
            "sla_policy",
            "active",
            "position",
            "version",
            "fields",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Priority.choices, allow_null=True))
    def get_priority(self, request_type: RequestType) -> str | None:
        return request_type.priority or None

    def get_version(self, request_type: RequestType) -> int:
        return request_type.form.version if request_type.form is not None else 0

    @extend_schema_field(FieldSerializer(many=True))
    def fields_of(self, request_type: RequestType) -> list[dict[str, Any]]:
        definitions = form_fields(request_type.form.definitions if request_type.form is not None else [])
        shown = visible_fields(definitions, customer_side=self.context.get("customer_side", True))
        return [field.as_json() for field in shown]


class LibraryTypeInputSerializer(InputSerializer):
    accepts = ("id", "created_at", "updated_at")

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2_000, allow_blank=True, required=False)
    priority = priority_or_null()
    fields = serializers.ListField(child=FieldDefSerializer(), max_length=MAX_FIELDS, required=False)  # type: ignore[assignment]

    def validate_fields(self, value: list[dict[str, Any]]) -> list[FieldDef]:
        return definitions_clean(value)


class LibraryTypeSerializer(serializers.ModelSerializer[LibraryRequestType]):
    priority = serializers.SerializerMethodField()
    fields = serializers.SerializerMethodField(method_name="fields_of")  # type: ignore[assignment]

    class Meta:
        model = LibraryRequestType
        fields = ["id", "name", "description", "priority", "fields", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Priority.choices, allow_null=True))
    def get_priority(self, entry: LibraryRequestType) -> str | None:
        return entry.priority or None

    @extend_schema_field(FieldSerializer(many=True))
    def fields_of(self, entry: LibraryRequestType) -> list[dict[str, Any]]:
        return [field.as_json() for field in form_fields(entry.definitions)]


class LibraryCopySerializer(InputSerializer):
    customer = serializers.RegexField(SLUG_PATTERN.pattern, max_length=40, help_text="The customer's slug.")


# A ticket's custom values in a body: {key: value}; each value's JSON type follows its field's kind.
FIELD_VALUES_SCHEMA = {
    "type": "object",
    "description": "Custom field values by key: text, a number, a date (YYYY-MM-DD), a choice, a list "
    "of choices, or the id of a user or CI of this customer; null clears one. Checked against the "
    "ticket's request type (400 `invalid` naming `fields.<key>`).",
    "additionalProperties": {
        "oneOf": [
            {"type": "string", "maxLength": 10_000},
            {"type": "number"},
            {"type": "array", "items": {"type": "string", "maxLength": CHOICE_MAX}, "maxItems": MAX_CHOICES},
        ],
        "nullable": True,
    },
    "maxProperties": MAX_FIELDS,
}


@extend_schema_field(FIELD_VALUES_SCHEMA)
class FieldValuesField(serializers.DictField):
    """``fields`` of a ticket body: the values are checked by ``tickets.types.values`` against the
    form (this field only takes the object)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(child=serializers.JSONField(allow_null=True), **kwargs)
