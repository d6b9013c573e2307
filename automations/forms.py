"""The console's automation rule form: what ``automations.services`` takes, the conditions,
actions and wait as JSON text (checked by the rule language in the service, as from the API),
and the dry run's customer for a provider-wide rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from automations.models import Event
from automations.services import NAME_MAX
from core import fields
from tenants.models import Customer

_JSON = {"rows": 5, "spellcheck": "false"}


class RuleForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    event = forms.ChoiceField(choices=Event.choices)
    conditions = fields.JSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs=_JSON),
        help_text='All must hold, e.g. [{"field": "subject", "op": "contains", "value": "vpn"}].',
    )
    actions = fields.JSONField(
        widget=forms.Textarea(attrs=_JSON),
        help_text='Done in order, e.g. [{"action": "assign", "to": "round_robin"}].',
    )
    wait = fields.JSONField(
        required=False,
        widget=forms.Textarea(attrs={**_JSON, "rows": 2}),
        help_text='Time rules only, e.g. {"status": "pending", "for": 5, "unit": "business_days"}.',
    )
    enabled = forms.BooleanField(required=False, initial=True)
    position = fields.IntegerField(
        minimum=0, maximum=1_000_000, required=False, help_text="Lower runs first."
    )

    def cleaned_fields(self) -> dict[str, Any]:
        """What the service takes: an empty position is "last" (left out), empty JSON is none."""
        data = dict(self.cleaned_data)
        if data.get("position") is None:
            data.pop("position", None)
        data["conditions"] = data.get("conditions") or []
        data["wait"] = data.get("wait") or None
        return data

    def add_workflow_error(self, exc: ValidationError) -> None:
        """The service's refusal under the field it names."""
        for name, messages in exc.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)


class DryRunForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.active().order_by("name"),
        to_field_name="slug",
        help_text="Whose tickets of the last 30 days to replay the rule on.",
    )
