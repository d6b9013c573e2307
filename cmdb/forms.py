"""The CI form of the console (create and edit). References are typed by name (CI names are
unique per customer) so the form works the same with ten CIs or fifty thousand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from cmdb.models import CiStatus, CiType, RelationKind
from core import fields
from people.models import CustomerUser
from serviflow.pages import problem_of
from sla.models import SlaPolicy
from tenants.access import require_sets_policies


class OwnerChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.user.name} <{obj.user.email}>"


class CiForm(forms.Form):
    name = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=CiType.choices)
    status = forms.ChoiceField(choices=CiStatus.choices, initial=CiStatus.ACTIVE)
    owner = OwnerChoiceField(queryset=CustomerUser.objects.none(), required=False, empty_label="No owner")
    parent = forms.CharField(
        required=False, max_length=100, help_text="The name of the CI this one sits in (a rack, a host)."
    )
    sla_policy = forms.ModelChoiceField(
        queryset=SlaPolicy.objects.all(),
        required=False,
        empty_label="None (inherit from the parent chain)",
        label="SLA policy",
    )
    attributes = fields.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='A JSON object, e.g. {"os": "Debian 12", "ram_gb": 64}.',
    )

    def __init__(self, *args: Any, by: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by = by
        owners = CustomerUser.objects.select_related("user").filter(user__is_active=True)
        self.fields["owner"].queryset = owners.order_by("user__name")  # type: ignore[attr-defined]
        if not by.is_provider_staff:  # only the provider chooses SLA policies: no list of them
            del self.fields["sla_policy"]

    def clean(self) -> dict[str, Any] | None:
        """A policy sent by someone who may not set one is refused (403) before its id is
        looked at, as in the API (``sla.serializers.PolicyField``)."""
        if "sla_policy" not in self.fields and self.data.get("sla_policy"):
            require_sets_policies(self.by)
        return super().clean()

    def clean_attributes(self) -> dict[str, Any]:
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError('Give a JSON object, e.g. {"os": "Debian 12"}.')
        return value

    def add_workflow_error(self, exc: Exception) -> None:
        """A refusal from the workflow (one of ``WORKFLOW_ERRORS``), under the field it names
        when the form has that field, else above the form."""
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            return
        named: str | None = getattr(exc, "field", None)
        self.add_error(named if named in self.fields else None, problem_of(exc)[1])


class RelationForm(forms.Form):
    kind = forms.ChoiceField(choices=RelationKind.choices)
    direction = forms.ChoiceField(
        choices=[("out", "this CI → other"), ("in", "other → this CI")], initial="out"
    )
    target = forms.CharField(max_length=100, label="Other CI (name)")
