"""API representations of contracts, their prepaid ledger and time entries (api.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from contracts.models import Contract, EntryKind, PrepaidEntry, TimeEntry
from contracts.services import MAX_PREPAID_HOURS, MAX_TOPUP_MINUTES
from contracts.time import MAX_MINUTES, MAX_NOTE
from core.parsers import BIGINT_MAX
from serviflow.api.fields import DayField
from serviflow.api.serializers import InputSerializer
from sla.models import SlaPolicy


def hundredths(value: float | None) -> Decimal | None:
    """Hours given as a JSON number, kept to the hundredth (2.004 is 2.00)."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


class ContractSerializer(serializers.ModelSerializer[Contract]):
    sla_policy = serializers.IntegerField(source="sla_policy_id", read_only=True, allow_null=True)
    prepaid_hours = serializers.DecimalField(
        max_digits=8, decimal_places=2, allow_null=True, coerce_to_string=False
    )
    balance_minutes = serializers.SerializerMethodField()

    class Meta:
        model = Contract
        fields = [
            "id",
            "name",
            "starts_on",
            "ends_on",
            "sla_policy",
            "prepaid_hours",
            "rollover",
            "warn_percent",
            "balance_minutes",
            "created_at",
        ]
        read_only_fields = fields

    def get_balance_minutes(self, contract: Contract) -> int | None:
        """The prepaid balance (null without a block); negative is overage."""
        balances: dict[int, int] = self.context.get("balances", {})
        return balances.get(contract.pk) if contract.has_prepaid else None


class ContractInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=120)
    starts_on = DayField()
    ends_on = DayField(allow_null=True, required=False)
    sla_policy = serializers.PrimaryKeyRelatedField(
        queryset=SlaPolicy.objects.all(), allow_null=True, required=False
    )
    prepaid_hours = serializers.FloatField(
        min_value=0.01, max_value=float(MAX_PREPAID_HOURS), allow_null=True, required=False
    )
    rollover = serializers.BooleanField(required=False)
    warn_percent = serializers.IntegerField(min_value=0, max_value=100, required=False)

    def validate_prepaid_hours(self, value: float | None) -> Decimal | None:
        return hundredths(value)


class LedgerEntrySerializer(serializers.ModelSerializer[PrepaidEntry]):
    time_entry = serializers.IntegerField(source="time_entry_id", allow_null=True, read_only=True)
    by = serializers.SerializerMethodField()

    class Meta:
        model = PrepaidEntry
        fields = ["id", "at", "kind", "minutes", "time_entry", "note", "by"]
        read_only_fields = fields

    def get_by(self, entry: PrepaidEntry) -> str:
        """The person's name, or the job's."""
        return entry.by.name if entry.by is not None else entry.by_job


class LedgerSerializer(serializers.Serializer[Any]):
    balance_minutes = serializers.IntegerField()
    overage_minutes = serializers.IntegerField()
    low = serializers.BooleanField()
    entries = LedgerEntrySerializer(many=True)


class TopupSerializer(InputSerializer):
    kind = serializers.ChoiceField(choices=[EntryKind.TOPUP.value])
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_TOPUP_MINUTES)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TimeEntrySerializer(serializers.ModelSerializer[TimeEntry]):
    agent = serializers.SerializerMethodField()
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True, read_only=True)
    ticket = serializers.IntegerField(source="ticket_id", read_only=True)

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "ticket",
            "agent",
            "minutes",
            "work_date",
            "billable",
            "note",
            "reverses",
            "created_at",
        ]
        read_only_fields = fields

    def get_agent(self, entry: TimeEntry) -> dict[str, Any]:
        return {"id": entry.agent_id, "name": entry.agent.name}


class TimeEntryInputSerializer(InputSerializer):
    minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_MINUTES, required=False, help_text="Required unless reversing."
    )
    work_date = DayField(
        required=False, help_text="Required unless reversing (then: the original's, if open)."
    )
    billable = serializers.BooleanField(required=False)
    note = serializers.CharField(max_length=MAX_NOTE, required=False, allow_blank=True, default="")
    reverses = serializers.IntegerField(
        min_value=1, max_value=BIGINT_MAX, allow_null=True, required=False, default=None
    )
