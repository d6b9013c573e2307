"""A request type's form on a page (the console's and the portal's new-ticket pages, the console
ticket page): which type was chosen, its fields as inputs (``field.<key>``), and the posted
values handed to ``tickets.types.values`` unchanged, so a page's refusal names the field as the
API's does."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict

from cmdb.models import ConfigurationItem
from cmdb.selectors import cis_visible
from core.fields import IdField
from people.models import CustomerUser
from tenants.access import CustomerAccess
from tickets.models import RequestType
from tickets.types.services import offered_types
from tickets.types.values import FieldDef, FieldKind, form_fields, value_shown, visible_fields

PREFIX = "field."
MAX_OPTIONS = 500  # users or CIs offered in a select


class TypeChoiceForm(forms.Form):
    """``?type=<id>`` (the type step) or a posted ``request_type``: the request type whose form
    a new-ticket page shows or files."""

    type = IdField(required=False, what="a request type's id")
    request_type = IdField(required=False, what="a request type's id")


def chosen_type(request: HttpRequest) -> RequestType | None:
    """The type a new-ticket page works with: on GET the one ``?type=`` names (None when none or
    not offered: the general form); on POST the posted ``request_type``, refused by name when it
    is not one of the active types."""
    posting = request.method == "POST"
    form = TypeChoiceForm(request.POST if posting else request.GET)
    name = "request_type" if posting else "type"
    wanted = form.cleaned_data.get(name) if form.is_valid() else None
    if posting and not form.is_valid():
        raise ValidationError({"request_type": form.errors.get("request_type", ["Not a request type."])})
    if wanted is None:
        return None
    found = offered_types().filter(pk=wanted).first()
    if found is None and posting:
        raise ValidationError({"request_type": ["That request type is no longer offered; choose another."]})
    return found


def type_step(request_type: RequestType | None, **extra: Any) -> dict[str, Any]:
    """The page context of the type step and the chosen type's fields (``_type_step.html``,
    ``_type_fields.html``)."""
    return {
        "types": list(offered_types()),
        "chosen_type": request_type,
        "default_priority": (request_type.priority if request_type is not None else "") or "P3",
        "type_inputs": form_inputs(form_of(request_type), **extra),
    }


@dataclass
class FieldInput:
    """One field of the form as a page renders it."""

    field: FieldDef
    value: Any = ""
    options: list[tuple[str, str]] = default(default_factory=list)
    error: str = ""

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.field.key}"

    @property
    def input_id(self) -> str:
        return f"field-{self.field.key}"

    @property
    def typed(self) -> bool:
        """A user named by email (a customer user who is not shown the list of colleagues)."""
        return self.field.kind == FieldKind.USER and not self.options

    @property
    def chosen(self) -> list[str]:
        """The selected options as text (a multiple choice's list, another kind's value)."""
        values = self.value if isinstance(self.value, list) else [self.value]
        return [str(value) for value in values if value not in (None, "")]


def _options(kind: str, reader: CustomerAccess | None) -> list[tuple[str, str]]:
    """The users or CIs a select offers (``reader``: the customer-side person filling the form,
    None on the agent side). The customer's side sees the CIs the portal shows them
    (``cis_visible``) and the colleagues it lists to them (its admins, who manage the users);
    other customer users name a colleague by email, as when copying one on a ticket."""
    if kind == FieldKind.USER:
        if reader is not None and not reader.manages_users:
            return []
        people = (
            CustomerUser.objects.filter(user__is_active=True).select_related("user").order_by("user__name")
        )
        return [
            (str(person.pk), f"{person.user.name} <{person.user.email}>") for person in people[:MAX_OPTIONS]
        ]
    if kind == FieldKind.CI:
        cis = ConfigurationItem.objects.all() if reader is None else cis_visible(reader)
        in_use = cis.filter(retired_at__isnull=True).order_by("name")
        return [(str(ci.pk), ci.name) for ci in in_use[:MAX_OPTIONS]]
    return []


def form_inputs(
    definitions: list[FieldDef],
    *,
    customer_side: bool,
    access: CustomerAccess | None = None,
    values: dict[str, Any] | None = None,
    error: ValidationError | None = None,
) -> list[FieldInput]:
    """The inputs of the fields the reader may fill, with the values to show and the refusal of
    each (``error``: the workflow's, keyed ``fields.<key>``). ``customer_side`` readers are
    offered only the users and CIs ``access`` may see (none without it)."""
    problems = error.message_dict if error is not None and hasattr(error, "error_dict") else {}
    shown = visible_fields(definitions, customer_side=customer_side)
    reader = access if customer_side else None

    def offered(item: FieldDef) -> list[tuple[str, str]]:
        if item.choices:
            return [(choice, choice) for choice in item.choices]
        return [] if customer_side and access is None else _options(item.kind, reader)

    return [
        FieldInput(
            field=item,
            value=(values or {}).get(item.key, [] if item.kind == FieldKind.MULTI_CHOICE else ""),
            options=offered(item),
            error=" ".join(problems.get(f"fields.{item.key}", [])),
        )
        for item in shown
    ]


def posted_values(
    definitions: list[FieldDef], post: QueryDict, *, customer_side: bool, clear_empty: bool = False
) -> dict[str, Any]:
    """The values a page posted (``field.<key>``) as ``clean_values`` takes them: texts as
    typed, a multiple choice's boxes as a list; empty inputs are left out (``clear_empty``, a
    change of a ticket's values: they clear the field)."""
    raw: dict[str, Any] = {}
    for item in visible_fields(definitions, customer_side=customer_side):
        name = f"{PREFIX}{item.key}"
        if item.kind == FieldKind.MULTI_CHOICE:
            chosen = [value for value in post.getlist(name) if value]
            if chosen or clear_empty:
                raw[item.key] = chosen
        elif post.get(name, "").strip() or clear_empty:
            raw[item.key] = post.get(name, "")
    return raw


def form_of(request_type: RequestType | None) -> list[FieldDef]:
    if request_type is None or request_type.form is None:
        return []
    return form_fields(request_type.form.definitions)


@dataclass(frozen=True)
class ShownValue:
    label: str
    value: str
    customer_visible: bool


@dataclass
class TicketForm:
    """What a ticket page shows of the ticket's form: the type's name and each value, labelled as
    the form the ticket was filed with defines them."""

    type_name: str
    values: list[ShownValue] = default(default_factory=list)


def ticket_form_shown(ticket: Any, *, customer_side: bool) -> TicketForm | None:
    if ticket.request_type is None or ticket.request_form is None:
        return None
    definitions = visible_fields(form_fields(ticket.request_form.definitions), customer_side=customer_side)
    return TicketForm(
        type_name=ticket.request_type.name,
        values=[
            ShownValue(item.label, value_shown(item, ticket.fields[item.key]), item.customer_visible)
            for item in definitions
            if item.key in ticket.fields
        ],
    )
