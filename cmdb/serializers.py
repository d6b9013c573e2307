"""API representations of configuration items and their relations."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cmdb.models import CiRelation, CiStatus, CiType, ConfigurationItem, RelationKind
from cmdb.selectors import EffectivePolicy, effective_policy
from serviflow.api.serializers import InputSerializer
from sla.serializers import PolicyField

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
    context (``effective``), computed for the whole page in one query."""

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

    def get_parent_name(self, ci: ConfigurationItem) -> str | None:
        return ci.parent.name if ci.parent else None

    @extend_schema_field(EFFECTIVE_SLA_SCHEMA)
    def get_effective_sla(self, ci: ConfigurationItem) -> dict[str, object]:
        known: dict[int, EffectivePolicy] = self.context.get("effective", {})
        return (known.get(ci.pk) or effective_policy(ci)).as_dict()


class CiWriteSerializer(InputSerializer):
    """Input of create and PATCH; references are resolved inside the customer by the view."""

    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=CiType.choices)
    status = serializers.ChoiceField(choices=CiStatus.choices, required=False)
    owner = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="A user of this customer: id or email."
    )
    parent = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_null=True, allow_blank=True, help_text="A CI of this customer: id or name."
    )
    sla_policy = PolicyField()
    attributes = serializers.JSONField(required=False)


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
    target = serializers.CharField(help_text="The other CI of this customer: id or name.")
    direction = serializers.ChoiceField(
        choices=[("out", "this CI <kind> target"), ("in", "target <kind> this CI")], default="out"
    )


class AssetCountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField())
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_type_and_status = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
