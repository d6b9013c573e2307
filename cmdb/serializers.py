"""API representations of configuration items and their relations."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cmdb.models import CiRelation, CiStatus, CiType, ConfigurationItem, RelationKind
from cmdb.selectors import EffectivePolicy, effective_policy, names_seen
from serviflow.api.fields import ReferenceField
from serviflow.api.serializers import InputSerializer
from sla.serializers import PolicyField
from tenants.access import CustomerAccess

EFFECTIVE_SLA_SCHEMA = {
    "type": "object",
    "properties": {
        "policy": {"type": "object", "nullable": True, "properties": {"id": {}, "name": {}}},
        "source": {"type": "string", "nullable": True, "enum": ["ci", None]},
        "reason": {"type": "string"},
        "ci": {"type": "object", "nullable": True, "properties": {"id": {}, "name": {}}},
        "inherited": {"type": "boolean"},
        "depth": {"type": "integer", "nullable": True},
    },
}


class CiSerializer(serializers.ModelSerializer[ConfigurationItem]):
    """Reads only what ``cis_visible`` loaded; lists pass every row's effective policy in the
    context (``effective``) and the CIs the reader may name (``named``), computed for the whole
    page (``selectors.names_seen``). A parent or deciding ancestor the reader (``access``) may
    not open keeps its id but not its name."""

    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    owner_name = serializers.SerializerMethodField()
    # Declared fields named like Field attributes (parent, source) are fine at run time.
    parent = serializers.IntegerField(source="parent_id", read_only=True, allow_null=True)  # type: ignore[assignment]
    parent_name = serializers.SerializerMethodField()
    sla_policy = serializers.IntegerField(source="sla_policy_id", read_only=True, allow_null=True)
    effective_sla = serializers.SerializerMethodField()

    class Meta:
        model = ConfigurationItem
        fields = [
            "id",
            "name",
            "type",
            "status",
            "owner",
            "owner_name",
            "parent",
            "parent_name",
            "sla_policy",
            "attributes",
            "effective_sla",
            "created_at",
            "updated_at",
            "retired_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, ci: ConfigurationItem) -> str | None:
        return ci.owner.user.name if ci.owner else None

    def _seen(self, ci: ConfigurationItem) -> tuple[EffectivePolicy, Collection[int] | None]:
        """The CI's effective policy and the CIs the reader may name (None: every CI), from the
        context, or looked up once for a single CI."""
        known: dict[int, EffectivePolicy] = self.context.setdefault("effective", {})
        if ci.pk not in known:
            access: CustomerAccess | None = self.context.get("access")
            if access is None:
                known[ci.pk] = effective_policy(ci)
            else:
                effective, self.context["named"] = names_seen(access, [ci])
                known.update(effective)
        return known[ci.pk], self.context.get("named")

    def get_parent_name(self, ci: ConfigurationItem) -> str | None:
        if ci.parent is None:
            return None
        named = self._seen(ci)[1]
        return ci.parent.name if named is None or ci.parent_id in named else None

    @extend_schema_field(EFFECTIVE_SLA_SCHEMA)
    def get_effective_sla(self, ci: ConfigurationItem) -> dict[str, object]:
        return self._seen(ci)[0].as_dict()


@extend_schema_field({"type": "object", "additionalProperties": {}, "maxProperties": 100})
class AttributesField(serializers.JSONField):
    """A JSON object (``services.clean_attributes`` checks it, with its own messages)."""


class CiWriteSerializer(InputSerializer):
    """Input of create and PATCH; references are resolved inside the customer by the view."""

    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=CiType.choices)
    status = serializers.ChoiceField(choices=CiStatus.choices, required=False)
    owner = ReferenceField(
        text={"format": "email"},
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A user of this customer: id or email.",
    )
    parent = ReferenceField(  # type: ignore[assignment]
        text={"maxLength": 100},
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A CI of this customer: id or name.",
    )
    sla_policy = PolicyField()
    attributes = AttributesField(required=False, help_text='Free-form, e.g. {"os": "Debian 12"}.')


class CiRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CiRelationSerializer(serializers.ModelSerializer[CiRelation]):
    source = CiRefSerializer(read_only=True)  # type: ignore[assignment]
    target = CiRefSerializer(read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = CiRelation
        fields = ["id", "kind", "summary", "source", "target", "created_at"]
        read_only_fields = fields

    def get_summary(self, relation: CiRelation) -> str:
        return f"{relation.source.name} {RelationKind(relation.kind).label} {relation.target.name}"


class CiRelationWriteSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=RelationKind.choices)
    target = ReferenceField(
        text={"minLength": 1, "maxLength": 100}, help_text="The other CI of this customer: id or name."
    )
    direction = serializers.ChoiceField(
        choices=[("out", "this CI <kind> target"), ("in", "target <kind> this CI")], default="out"
    )


class AssetCountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField())
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_type_and_status = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
