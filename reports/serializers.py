"""API representations of the monthly figures and the service report (api.md, reports.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from billing.api import MonthQuerySerializer

FORMATS = ["json", "csv"]
REPORT_FORMATS = ["json", "csv", "pdf"]


class FiguresQuerySerializer(MonthQuerySerializer):
    format = serializers.ChoiceField(choices=FORMATS, required=False, default="json")


class ReportQuerySerializer(serializers.Serializer[Any]):
    format = serializers.ChoiceField(choices=REPORT_FORMATS, required=False, default="json")
    version = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, help_text="An issued version (default: the latest)."
    )


class CustomerFiguresSerializer(serializers.Serializer[Any]):
    customer = serializers.CharField(help_text="the customer's slug")
    name = serializers.CharField()
    timezone = serializers.CharField()
    month = serializers.CharField()
    tickets_created = serializers.IntegerField()
    tickets_resolved = serializers.IntegerField()
    open_tickets = serializers.IntegerField()
    first_response_met_pct = serializers.FloatField(allow_null=True)
    resolution_met_pct = serializers.FloatField(allow_null=True)
    breaches = serializers.IntegerField()
    assets = serializers.DictField(child=serializers.IntegerField(), help_text="CIs not retired, by type")
    assets_total = serializers.IntegerField()
    users = serializers.IntegerField()
    time_minutes = serializers.IntegerField()
    billable_minutes = serializers.IntegerField()


class FiguresPageSerializer(serializers.Serializer[Any]):
    month = serializers.CharField()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CustomerFiguresSerializer(many=True)


class IssuedSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField()
    sha256 = serializers.CharField()
    issued_at = serializers.DateTimeField()
    differences = serializers.ListField(child=serializers.DictField())
