"""Forms of the audit pages and API: which chain is read, and the access review's period."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from accounts.models import User
from core.fields import DayField, FlagField
from serviflow.pages import cleaned
from tenants.access import customers_visible_to
from tenants.models import Customer

MAX_REVIEW_DAYS = 366


class PeriodForm(forms.Form):
    from_ = DayField(error_messages={"required": "Give the first day of the period (YYYY-MM-DD)."})
    to = DayField(error_messages={"required": "Give the last day of the period (YYYY-MM-DD)."})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            raise ValidationError({"to": "The last day comes before the first."})
        if start and end and (end - start).days >= MAX_REVIEW_DAYS:
            raise ValidationError({"to": f"A review covers at most {MAX_REVIEW_DAYS} days."})
        return data


PeriodForm.base_fields["from"] = PeriodForm.base_fields.pop("from_")  # "from" is a keyword


def cleaned_period(params: QueryDict) -> tuple[date, date]:
    """``from`` and ``to`` of a query string, or a ValidationError naming the bad one."""
    values = cleaned(PeriodForm(params))
    return values["from"], values["to"]


class ChainForm(forms.Form):
    customer = forms.SlugField(max_length=63, required=False)


def chain_customer(user: User, params: QueryDict) -> Customer | None:
    """The customer whose chain ``?customer=`` asks for (None: the provider's own), as ``user``
    may see it; a ValidationError naming ``customer`` otherwise."""
    slug = cleaned(ChainForm(params))["customer"]
    if not slug:
        return None
    customer = customers_visible_to(user).filter(slug=slug).first()
    if customer is None:
        raise ValidationError({"customer": f"No customer has the slug {slug}."})
    return customer


class VerifyForm(forms.Form):
    """The audit page's "Verify the chain" (``?verify=true``)."""

    verify = FlagField(required=False)
