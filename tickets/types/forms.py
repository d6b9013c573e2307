"""The console's forms for building request types: the type itself and its fields (a formset,
one row per field, blank rows to add more). The rows become the same definitions the API takes
and are checked by ``tickets.types.values.definitions_clean``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from sla.models import SlaPolicy
from tickets.models import Priority
from tickets.types.values import (
    CHOICE_MAX,
    HELP_MAX,
    LABEL_MAX,
    MAX_FIELDS,
    FieldDef,
    FieldKind,
    definitions_clean,
)


class RequestTypeForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, max_length=2_000, widget=forms.Textarea)
    priority = forms.ChoiceField(
        choices=[("", "(none: P3 unless the requester chooses)"), *Priority.choices], required=False
    )
    sla_policy = forms.ModelChoiceField(
        queryset=SlaPolicy.objects.order_by("name"),
        required=False,
        empty_label="(none: the rest of the hierarchy decides)",
        label="SLA policy",
    )
    active = forms.BooleanField(required=False, initial=True, help_text="Offered on new tickets.")
    position = forms.IntegerField(required=False, min_value=0, max_value=10_000, initial=0)


class FieldDefForm(forms.Form):
    key = forms.CharField(max_length=40, help_text="a-z, 0-9 and _ (cost_centre)")
    label = forms.CharField(max_length=LABEL_MAX)
    kind = forms.ChoiceField(choices=FieldKind.choices, initial=FieldKind.TEXT)
    required = forms.BooleanField(required=False)
    customer_visible = forms.BooleanField(required=False, initial=True, label="Customer sees it")
    choices = forms.CharField(
        required=False,
        max_length=CHOICE_MAX * 100,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Choice kinds: one option per line.",
    )
    help_text = forms.CharField(required=False, max_length=HELP_MAX)


FieldDefFormSet = forms.formset_factory(
    FieldDefForm, extra=2, can_delete=True, max_num=MAX_FIELDS, validate_max=True
)


def formset_initial(definitions: list[FieldDef]) -> list[dict[str, Any]]:
    return [{**definition.as_json(), "choices": "\n".join(definition.choices)} for definition in definitions]


def formset_definitions(formset: Any) -> list[FieldDef]:
    """The rows filled in (and not marked for deletion), as checked definitions; a problem is a
    ValidationError naming the row's field."""
    if not formset.is_valid():
        problems: dict[str, list[str]] = {}
        for index, errors in enumerate(formset.errors):
            for name, messages in errors.items():
                problems[f"fields[{index}].{name}"] = list(messages)
        for message in formset.non_form_errors():
            problems.setdefault("fields", []).append(message)
        raise ValidationError(problems)
    rows = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE"):
            continue
        choices = [line.strip() for line in (data.get("choices") or "").splitlines() if line.strip()]
        rows.append(
            {
                "key": data["key"].strip(),
                "label": data["label"],
                "kind": data["kind"],
                "required": bool(data.get("required")),
                "customer_visible": bool(data.get("customer_visible")),
                "help_text": data.get("help_text") or "",
                "choices": choices,
            }
        )
    return definitions_clean(rows)


class LibraryCopyForm(forms.Form):
    customer = forms.SlugField(max_length=40)
