"""Console forms of the email channel (every input through a form)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import User
from core.fields import FlagField
from tenants.access import customers_visible_to
from tenants.models import Customer
from tickets.models import RequestType


class TriageAssignForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        to_field_name="slug",
        error_messages={"invalid_choice": "Choose one of your customers."},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["customer"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 (declared above)
        field.queryset = customers_visible_to(user).exclude(schema_name="public").order_by("name")


class MailSettingsForm(forms.Form):
    addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="More addresses that belong to this customer, one per line.",
    )
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The mail domains its people write from, one per line (acme.com).",
    )
    accept_new_senders = forms.BooleanField(
        required=False, label="Accept mail from new senders in these domains (they become users)"
    )
    accept_list_mail = forms.BooleanField(required=False, label="Accept mailing-list mail (List-Id)")
    default_request_type = forms.ModelChoiceField(
        queryset=RequestType.objects.none(),
        required=False,
        empty_label="(none: a plain ticket)",
        help_text="The request type of tickets opened by email; lines 'Label: value' fill its fields.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the customer's active types (the page runs inside its schema)
        self.fields["default_request_type"].queryset = RequestType.objects.filter(active=True)  # type: ignore[attr-defined]

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in str(self.cleaned_data.get(name) or "").splitlines() if line.strip()]


class OriginalForm(forms.Form):
    """``?raw=true``: the unchanged message as a file."""

    raw = FlagField(required=False)
