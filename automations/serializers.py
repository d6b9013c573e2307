"""What the automations' API reads and shows (api.md: ``{name, event, conditions, actions,
enabled}``, with ``wait``, ``position`` and ``owner`` added). The body's JSON is taken as it
comes and checked by ``automations.language`` in the services, whose refusals name the
condition or action at fault."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from automations.models import Event, Rule
from automations.services import NAME_MAX
from serviflow.api.serializers import InputSerializer
from tenants.validators import SLUG_PATTERN


class RuleSerializer(serializers.ModelSerializer[Rule]):
    customer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The customer's slug; null for a provider-wide rule.",
    )
    owner = serializers.IntegerField(source="owner_id", read_only=True, help_text="The admin it acts as.")
    runs = serializers.BooleanField(
        read_only=True, help_text="Whether it runs: enabled and its owner active (see not_running)."
    )
    not_running = serializers.CharField(
        source="stopped_because",
        read_only=True,
        allow_null=True,
        help_text='Why an enabled rule does not run ("owner inactive: ..."), or null.',
    )
    conditions = serializers.JSONField(help_text="All must hold: [{field, op, value}] (README, Automations).")
    actions = serializers.JSONField(help_text="Done in order: [{action, ...}] (README, Automations).")
    wait = serializers.JSONField(
        allow_null=True, help_text="Time rules only: {status, for, unit: hours|business_hours|business_days}."
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "event",
            "conditions",
            "actions",
            "wait",
            "enabled",
            "position",
            "customer",
            "owner",
            "runs",
            "not_running",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RuleInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=NAME_MAX)
    event = serializers.ChoiceField(choices=Event.choices)
    conditions = serializers.JSONField(required=False, help_text="[{field, op, value}], all must hold.")
    actions = serializers.JSONField(help_text="[{action, ...}], done in order.")
    wait = serializers.JSONField(
        required=False, allow_null=True, help_text="Time rules: {status, for, unit}."
    )
    enabled = serializers.BooleanField(required=False)
    position = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)


class DryRunSerializer(InputSerializer):
    customer = serializers.RegexField(
        SLUG_PATTERN.pattern,
        max_length=40,
        help_text="Provider-wide rules: the customer whose tickets to replay (its slug).",
    )


class MatchSerializer(serializers.Serializer[Any]):
    ticket = serializers.IntegerField(help_text="The ticket's id.")
    reference = serializers.CharField(help_text="ACME-12")
    subject = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField(), help_text="What the rule would do.")


class DryRunResultSerializer(serializers.Serializer[Any]):
    matches = MatchSerializer(many=True)
