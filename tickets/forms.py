"""What the console's and the portal's ticket pages read from a post. Forms only read and shape
the input (ids in ASCII digits, names, lengths, files); the rules are the workflows'
(``tickets.workflows``), which word their refusals the same for every channel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from cmdb.models import MAX_NAME, ConfigurationItem
from cmdb.selectors import ci_from
from core.fields import FilesField, IdField
from people.models import CustomerUser
from sla.models import SlaPolicy
from tenants.access import CustomerAccess, ticket_workers
from tickets.models import Priority, Ticket
from tickets.workflows import NewTicket, TicketChanges

VISIBILITIES = (("public", "Public reply"), ("private", "Private note"))


def _ci(access: CustomerAccess, value: object) -> ConfigurationItem | None:
    """The CI a form names (id or name), its refusal as the field's own error."""
    try:
        return ci_from(access, value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


class ReplyForm(forms.Form):
    body = forms.CharField(required=False, strip=False)  # tickets.workflows words its limits
    visibility = forms.ChoiceField(choices=VISIBILITIES, required=False)
    attachments = FilesField()

    @property
    def public(self) -> bool:
        return self.cleaned_data.get("visibility") != "private"


class _TicketFields(forms.Form):
    subject = forms.CharField(required=False)  # tickets.workflows words its limits
    description = forms.CharField(required=False, strip=False)
    priority = forms.CharField(required=False, max_length=10)
    ci = forms.CharField(required=False, max_length=MAX_NAME)
    attachments = FilesField()

    def __init__(self, *args: Any, access: CustomerAccess, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access = access

    def clean_ci(self) -> ConfigurationItem | None:
        return _ci(self.access, self.cleaned_data.get("ci"))

    def new_ticket(self, **extra: Any) -> NewTicket:
        data = self.cleaned_data
        return NewTicket(
            subject=data["subject"],
            description=data["description"],
            priority=data["priority"] or Priority.P3,
            ci=data["ci"],
            **extra,
        )


class PortalTicketForm(_TicketFields):
    """A customer's new ticket: they are the requester."""


class ConsoleTicketForm(_TicketFields):
    """An agent's new ticket, for one of the customer's users, maybe assigned at once."""

    requester = IdField(required=False, what="a user id")
    assignee = IdField(required=False, what="an agent's id")

    def clean_requester(self) -> CustomerUser | None:
        pk = self.cleaned_data.get("requester")
        return None if pk is None else CustomerUser.objects.select_related("user").filter(pk=pk).first()

    def clean_assignee(self) -> Any:
        pk = self.cleaned_data.get("assignee")
        return None if pk is None else ticket_workers(self.access.customer).filter(pk=pk).first()

    def new_ticket(self, **extra: Any) -> NewTicket:
        return super().new_ticket(
            requester=self.cleaned_data["requester"], assignee=self.cleaned_data["assignee"], **extra
        )


class TicketChangeForm(forms.Form):
    """The console ticket page's side panel: status, priority, assignee and CI; a field left out
    of the post is not changed, one equal to the ticket's value is no change."""

    status = forms.CharField(required=False, max_length=20)
    priority = forms.CharField(required=False, max_length=10)
    assignee = IdField(required=False, what="an agent's id")
    ci = forms.CharField(required=False, max_length=MAX_NAME)
    # The latest history entry the panel showed (tickets.selectors.history_seen); without it
    # the save is not checked against later changes (as a PATCH without If-Match).
    seen = IdField(required=False, what="a history entry id")

    def __init__(self, *args: Any, access: CustomerAccess, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access, self.ticket = access, ticket

    def clean_ci(self) -> ConfigurationItem | None:
        return _ci(self.access, self.cleaned_data.get("ci"))

    def clean_assignee(self) -> Any:
        pk = self.cleaned_data.get("assignee")
        if pk is None:
            return None
        worker = ticket_workers(self.access.customer).filter(pk=pk).first()
        if worker is None:
            raise ValidationError("That person cannot work this customer's tickets.")
        return worker

    def changes(self) -> TicketChanges:
        data, ticket, posted = self.cleaned_data, self.ticket, self.data
        given: dict[str, Any] = {}
        for name in ("status", "priority"):
            if data[name] and data[name] != getattr(ticket, name):
                given[name] = data[name]
        for name in ("assignee", "ci"):
            if name in posted and data[name] != getattr(ticket, name):
                given[name] = data[name]
        return TicketChanges(**given)


class LiveForm(forms.Form):
    """A live ticket page's poll: the latest history entry the page shows, so that what came
    after it is announced."""

    seen = IdField(required=False, what="a history entry id")


class StatusForm(forms.Form):
    """The portal's reopen and close buttons."""

    status = forms.CharField(max_length=20)


class TicketSlaForm(forms.Form):
    """The console ticket page's SLA override (provider staff): a policy, or none (the hierarchy
    decides: requester, CI, customer, provider default)."""

    sla_policy = forms.ModelChoiceField(
        queryset=SlaPolicy.objects.order_by("name"),
        required=False,
        empty_label="No override: the hierarchy decides",
        label="SLA override",
    )
