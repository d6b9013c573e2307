"""What the console's contract pages read from a post (the rules are ``contracts.services``')."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from contracts.services import MAX_PREPAID_HOURS, MAX_TOPUP_MINUTES
from core.fields import DayField, IntegerField
from sla.models import SlaPolicy


class ContractForm(forms.Form):
    name = forms.CharField(max_length=120)
    starts_on = DayField()
    ends_on = DayField(required=False, help_text="The last day it covers; empty: open-ended.")
    sla_policy = forms.ModelChoiceField(
        queryset=SlaPolicy.objects.order_by("name"),
        required=False,
        empty_label="(none: the customer's default)",
    )
    prepaid_hours = forms.DecimalField(
        required=False, min_value=Decimal("0.01"), max_value=MAX_PREPAID_HOURS, decimal_places=2, max_digits=8
    )
    rollover = forms.BooleanField(required=False, help_text="Unused hours move to the next contract.")
    warn_percent = IntegerField(minimum=0, maximum=100, required=False, help_text="Default 20.")

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("warn_percent") is None:
            data.pop("warn_percent", None)
        return data


class TopupForm(forms.Form):
    hours = forms.DecimalField(
        min_value=Decimal("0.25"), max_value=Decimal(MAX_TOPUP_MINUTES // 60), decimal_places=2
    )
    note = forms.CharField(required=False, max_length=200)


class MonthCloseForm(forms.Form):
    month = forms.RegexField(r"^[0-9]{4}-[0-9]{2}$", max_length=7, error_messages={"invalid": "Use YYYY-MM."})
