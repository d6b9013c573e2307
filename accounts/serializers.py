from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import SCOPE_LEVELS, Licence, User, UserKind
from accounts.services import AgentChanges
from serviflow.api.fields import TimezoneField
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from tenants.models import Customer


class MeSerializer(serializers.ModelSerializer[User]):
    customer: serializers.SlugRelatedField[Customer] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = User
        fields = ["id", "email", "name", "kind", "licence", "timezone", "customer", "customer_role"]
        read_only_fields = fields


class TokenRequestSerializer(InputSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="API token")


class TokenResponseSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    user = MeSerializer()


class CustomerSlugsField(serializers.ListField):
    """``["*"]`` for every customer, else a list of slugs."""

    child = serializers.CharField(max_length=40)

    def to_representation(self, data: Any) -> list[str]:
        user: User = data
        if user.all_customers:
            return ["*"]
        return sorted(m.customer.slug for m in user.memberships.all())

    def get_attribute(self, instance: User) -> User:  # type: ignore[override]
        return instance


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            scope: {"type": "string", "enum": list(levels)} for scope, levels in SCOPE_LEVELS.items()
        },
        "additionalProperties": False,
        "nullable": True,
        "example": {"tickets": "write", "cmdb": "read", "reports": "none"},
    }
)
class PermissionsField(serializers.DictField):
    child = serializers.CharField()


class AgentSerializer(InputModelSerializer):
    timezone = TimezoneField(required=False)
    licence = serializers.ChoiceField(choices=Licence.choices, default=Licence.FULL_TIME)
    is_admin = serializers.BooleanField(default=False)
    customers = CustomerSlugsField(required=False)
    permissions = PermissionsField(required=False, allow_null=True)
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "name",
            "timezone",
            "licence",
            "is_admin",
            "customers",
            "permissions",
            "is_active",
            "password",
            "date_joined",
        ]
        read_only_fields = ["id", "date_joined"]
        extra_kwargs = {"email": {"validators": []}, "is_active": {"default": True}}

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["is_admin"] = instance.kind == UserKind.PROVIDER_ADMIN
        data["permissions"] = instance.permissions if instance.licence == Licence.OCCASIONAL else None
        return data

    def validate_customers(self, value: list[str]) -> list[str] | list[Customer]:
        """``["*"]`` as given, else the customers the slugs name."""
        if value == ["*"]:
            return value
        if "*" in value:
            raise serializers.ValidationError('Use ["*"] alone for every customer, or a list of slugs.')
        found = list(Customer.objects.customers().filter(slug__in=value).order_by("slug"))
        missing = sorted(set(value) - {customer.slug for customer in found})
        if missing:
            raise serializers.ValidationError(f"Unknown customer(s): {', '.join(missing)}.")
        return found

    def validate_permissions(self, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - set(SCOPE_LEVELS))
        if unknown:
            raise serializers.ValidationError(f"Unknown scope(s): {', '.join(unknown)}.")
        for scope, level in value.items():  # checked for every agent, also where they do not apply
            if level not in SCOPE_LEVELS[scope]:
                allowed = ", ".join(SCOPE_LEVELS[scope])
                raise serializers.ValidationError(f"'{scope}' must be one of {allowed}, got '{level}'.")
        return value

    def changes(self) -> AgentChanges:
        """The validated fields as a partial update for ``agent_update``."""
        data = dict(self.validated_data)
        given: dict[str, Any] = {
            name: data[name]
            for name in (
                "email",
                "name",
                "timezone",
                "licence",
                "is_admin",
                "permissions",
                "password",
                "is_active",
            )
            if name in data
        }
        if "customers" in data:
            every = data["customers"] == ["*"]
            given |= {"all_customers": every, "customers": () if every else tuple(data["customers"])}
        if given.get("password") == "":
            del given["password"]
        return AgentChanges(**given)
