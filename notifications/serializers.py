"""API representations of notification rules, their preview and a person's preferences."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.parsers import BIGINT_MAX
from notifications.models import Channel, NotificationPreference, NotificationRule, Role, RuleEvent
from notifications.rules import unmutable_events
from serviflow.api.serializers import InputSerializer

MAX_RECIPIENTS = 50


class NotificationRecipientSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    user = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) != 1:
            raise serializers.ValidationError("A recipient is either {role} or {user}.")
        return attrs


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "object",
                "properties": {"role": {"type": "string", "enum": Role.values}},
                "required": ["role"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"user": {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}},
                "required": ["user"],
                "additionalProperties": False,
            },
        ]
    }
)
class RecipientField(serializers.Field):  # type: ignore[type-arg]
    """``{role}`` or ``{user}``, read by ``NotificationRecipientSerializer``."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        recipient = NotificationRecipientSerializer(data=data)
        recipient.is_valid(raise_exception=True)
        return dict(recipient.validated_data)

    def to_representation(self, value: Any) -> Any:
        return value


class NotificationRuleInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    event = serializers.ChoiceField(choices=RuleEvent.choices)
    recipients = serializers.ListField(child=RecipientField(), allow_empty=False, max_length=MAX_RECIPIENTS)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), allow_empty=False, max_length=2
    )
    only_unassigned = serializers.BooleanField(
        required=False, help_text="Only while nobody is assigned to the ticket."
    )
    mutable = serializers.BooleanField(required=False, help_text="Whether its recipients may mute it.")
    enabled = serializers.BooleanField(required=False)


class NotificationRuleSerializer(serializers.ModelSerializer[NotificationRule]):
    customer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    # DRF's declared fields leave the class: ``source`` shadows nothing of Field at run time
    source = serializers.SerializerMethodField(  # type: ignore[assignment]
        method_name="source_of", help_text="customer or provider (provider-wide)."
    )
    default = serializers.SerializerMethodField(
        method_name="default_of", help_text="A built-in default: never, for a rule of a level."
    )

    class Meta:
        model = NotificationRule
        fields = [
            "id",
            "name",
            "event",
            "recipients",
            "channels",
            "only_unassigned",
            "mutable",
            "enabled",
            "customer",
            "source",
            "default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def source_of(self, rule: NotificationRule) -> str:
        return "customer" if rule.customer_id is not None else "provider"

    def default_of(self, rule: NotificationRule) -> bool:
        return False


class EffectiveNotificationRuleSerializer(serializers.Serializer[Any]):
    """A rule as the list shows it: a row, or what an event without rows of its own inherits
    (a provider-wide rule, or a built-in default)."""

    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    event = serializers.ChoiceField(choices=RuleEvent.choices)
    recipients = serializers.ListField(child=serializers.DictField())
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices))
    only_unassigned = serializers.BooleanField()
    mutable = serializers.BooleanField()
    enabled = serializers.BooleanField()
    customer = serializers.CharField(
        allow_null=True, help_text="The customer's slug: null for a provider-wide rule or a default."
    )
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="customer, provider (provider-wide) or default."
    )
    default = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True, help_text="Null for a built-in default.")
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null for a built-in default.")
    inherited = serializers.BooleanField(help_text="Not this level's own rule: it applies for want of one.")


class NotificationPreviewRecipientSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices))
    muted = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), help_text="Channels the person muted."
    )


class NotificationPreviewEventSerializer(serializers.Serializer[Any]):
    event = serializers.ChoiceField(choices=RuleEvent.choices)
    label = serializers.CharField()  # type: ignore[assignment]
    source = serializers.CharField()  # type: ignore[assignment]
    recipients = NotificationPreviewRecipientSerializer(many=True)


class NotificationPreviewSerializer(serializers.Serializer[Any]):
    ticket = serializers.IntegerField()
    events = NotificationPreviewEventSerializer(many=True)


class NotificationPreviewQuerySerializer(InputSerializer):
    ticket = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)


class NotificationPreferenceSerializer(serializers.ModelSerializer[NotificationPreference]):
    unmutable = serializers.SerializerMethodField(help_text="Events nobody may mute.")
    timezone = serializers.CharField(source="user.timezone", read_only=True)

    class Meta:
        model = NotificationPreference
        fields = ["muted", "quiet_from", "quiet_to", "timezone", "unmutable"]
        read_only_fields = fields

    def get_unmutable(self, preference: NotificationPreference) -> list[str]:
        return sorted(self.context.get("unmutable", ()))


class MutedSerializer(InputSerializer):
    """``{event: [channel]}``: one optional list per event that may be muted."""

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        never = unmutable_events()
        for event in RuleEvent:
            if event.value not in never:
                fields[event.value] = serializers.ListField(
                    child=serializers.ChoiceField(choices=Channel.choices),
                    max_length=2,
                    required=False,
                    help_text=f"The channels muted for {event.label.lower()}.",
                )
        return fields


class NotificationPreferenceInputSerializer(InputSerializer):
    muted = MutedSerializer(required=False, help_text="The events muted per channel (replaces the mutes).")
    quiet_from = serializers.TimeField(allow_null=True, required=False, help_text="Local time, HH:MM.")
    quiet_to = serializers.TimeField(allow_null=True, required=False, help_text="Local time, HH:MM.")
