"""API representations of the email channel: a customer's mail settings and the triage list."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from mail.models import InboundMessage
from serviflow.api.fields import ReferenceField
from serviflow.api.serializers import InputSerializer


class MailSettingsSerializer(serializers.Serializer[Any]):
    address = serializers.EmailField(read_only=True, help_text="The customer's own inbound address.")
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=320),
        help_text="Every address pinned to the customer: its own first, then its aliases.",
    )
    domains = serializers.ListField(child=serializers.CharField(max_length=253))
    accept_new_senders = serializers.BooleanField()
    accept_list_mail = serializers.BooleanField()
    default_request_type = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="The request type of tickets opened by email (its id)."
    )


class MailSettingsInputSerializer(InputSerializer):
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=320), max_length=21, required=False
    )
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), max_length=50, required=False
    )
    accept_new_senders = serializers.BooleanField(required=False)
    accept_list_mail = serializers.BooleanField(required=False)
    default_request_type = ReferenceField(
        text={"maxLength": 100},
        allow_null=True,
        required=False,
        help_text="An active request type of the customer (id or name) for tickets opened by email; "
        "null: none.",
    )


class TriageSerializer(serializers.ModelSerializer[InboundMessage]):
    to = serializers.ListField(source="envelope_to", child=serializers.CharField(), read_only=True)

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "received_at",
            "from",
            "to",
            "subject",
            "reason",
            "trace",
            "too_large",
            "flood",
            "size",
            "state",
        ]
        read_only_fields = fields


# ``from`` (api.md's name) is a Python keyword: declared outside the class body.
TriageSerializer._declared_fields["from"] = serializers.CharField(source="from_address", read_only=True)


class TriageAssignSerializer(InputSerializer):
    customer = serializers.SlugField(max_length=63, help_text="The customer's slug.")
