"""What the console's and the portal's ticket pages read from a post. Forms only read and shape
the input (ids in ASCII digits, names, lengths, files); the rules are the workflows'
(``tickets.workflows``), which word their refusals the same for every channel."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from cmdb.models import MAX_NAME, ConfigurationItem
from cmdb.selectors import ci_from
from contracts.time import MAX_MINUTES, MAX_NOTE, TimeInput
from core.fields import DayField, FilesField, FlagField, IdField, IntegerField, OneOfField
from core.parsers import is_id
from people.models import CustomerUser
from sla.models import SlaPolicy
from tenants.access import CustomerAccess, customers_visible_to, ticket_workers
from tenants.models import Customer
from tenants.validators import SLUG_PATTERN
from tickets.bulk import ACTIONS, MAX_TICKETS, Target
from tickets.canned.models import Scope as CannedScope
from tickets.canned.models import SetStatus
from tickets.canned.services import placeholders_help
from tickets.models import LinkAs, Priority, Status, Ticket
from tickets.workflows import MAX_BODY, NewTicket, TicketChanges

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
    # The button pressed: "Send", "Send and set pending", "Send and resolve" (agents only).
    then = forms.ChoiceField(choices=[("", "Send"), *SetStatus.choices], required=False)

    # Time spent, logged with the reply (agents; today, in the customer's zone).
    time_minutes = IntegerField(minimum=1, maximum=MAX_MINUTES, required=False)
    time_billable = forms.BooleanField(required=False)

    @property
    def public(self) -> bool:
        return self.cleaned_data.get("visibility") != "private"


class TimeForm(forms.Form):
    """A time entry on the ticket page, or (``reverses``) the reversal of one."""

    minutes = IntegerField(minimum=1, maximum=MAX_MINUTES, required=False)
    work_date = DayField(required=False)
    billable = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=MAX_NOTE)
    reverses = IdField(required=False, what="a time entry")

    def time_input(self) -> TimeInput:
        data = self.cleaned_data
        reversing = data.get("reverses") is not None
        return TimeInput(
            minutes=data.get("minutes"),
            work_date=data.get("work_date"),
            billable=None if reversing else bool(data.get("billable")),
            note=data.get("note") or "",
            reverses=data.get("reverses"),
        )


class CannedResponseForm(forms.Form):
    """A canned response on its console page (``tickets.canned.services`` words the limits)."""

    name = forms.CharField(required=False, max_length=200)
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea,
        help_text=f"Placeholders: {placeholders_help()}",
    )
    scope = forms.ChoiceField(choices=CannedScope.choices, initial=CannedScope.PERSONAL)
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        to_field_name="slug",
        help_text="For scope 'customer' only",
    )
    set_status = forms.ChoiceField(
        choices=[("", "Just send"), *SetStatus.choices], required=False, label="Meant to be sent with"
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers_visible_to(user).order_by("name")  # type: ignore[attr-defined]
        if not user.is_provider_admin:  # agents write their own personal responses only
            self.fields["scope"].choices = [(CannedScope.PERSONAL, CannedScope.PERSONAL.label)]  # type: ignore[attr-defined]


class CannedPickForm(forms.Form):
    """The reply box's canned-response picker: the words typed, or the response chosen."""

    q = forms.CharField(required=False, max_length=200)
    response = IdField(required=False, what="a canned response's id")


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
            priority=data["priority"] or "",  # none chosen: the request type's, else P3
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


class AttachmentViewForm(forms.Form):
    """A download's query: ``inline=true`` asks to show an image or a PDF in the page (its
    preview) rather than to save it (``tickets.attachments.attachment_response``)."""

    inline = FlagField(required=False)


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


# --- the queue: bulk changes and saved views ---------------------------------------------------------

AGENT_REFUSAL = "No agent with id '{}' (give an agent's id, 'me' or nothing to unassign)."


def bulk_value(action: str, value: object, user: User) -> Any:
    """What a bulk ``action`` does, read from ``value`` as the API and the console send it: an
    agent (id, ``me``) or None for ``assign``, a status, a priority, a note's text. A refusal is
    a ValidationError of the value (the workflows still judge each ticket)."""
    if action == "assign":
        if value is None or value in ("", "none"):
            return None
        if value == "me":
            return user
        if isinstance(value, bool) or not is_id(value):
            raise ValidationError(AGENT_REFUSAL.format(str(value)[:40]))
        agent = User.objects.filter(pk=int(str(value)), is_active=True).first()
        if agent is None or not agent.is_agent_level:
            raise ValidationError(AGENT_REFUSAL.format(str(value)[:40]))
        return agent
    if not isinstance(value, str):
        raise ValidationError("Give a string.")
    choices = {"status": Status.values, "priority": Priority.values}.get(action)
    if choices is not None:
        if value not in choices:
            raise ValidationError(f"Use one of {', '.join(choices)} for {action}, not '{value[:40]}'.")
        return value
    text = value.strip()
    if not text:
        raise ValidationError("A note needs some text.")
    if len(text) > MAX_BODY:
        raise ValidationError(f"At most {MAX_BODY} characters (got {len(text)}).")
    return text


class BulkForm(forms.Form):
    """The console queue's bulk bar: the rows ticked (``ticket``: ``<slug>:<id>``) or every row
    matching the filters shown (``matching``: ``query`` holds them), the action (the button
    pressed) and its value, from the field named after it (the agent picked, the status, the
    priority, the note)."""

    ticket = forms.Field(required=False, widget=forms.MultipleHiddenInput)  # read by clean_ticket
    matching = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4000)
    action = OneOfField(choices=[(action, action) for action in ACTIONS])
    assign = forms.CharField(required=False, max_length=40)
    status = forms.CharField(required=False, max_length=20)
    priority = forms.CharField(required=False, max_length=20)
    note = forms.CharField(required=False, strip=False, max_length=MAX_BODY + 100)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_ticket(self) -> list[Target]:
        targets = []
        for raw in self.data.getlist("ticket") if hasattr(self.data, "getlist") else []:
            slug, _, number = str(raw).partition(":")
            if not SLUG_PATTERN.match(slug) or not is_id(number):
                raise ValidationError(f"'{str(raw)[:40]}' is not a ticket of the queue.")
            targets.append(Target(customer=slug, id=int(number)))
        if len(targets) > MAX_TICKETS:
            raise ValidationError(f"At most {MAX_TICKETS} tickets at once.")
        return targets

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action in ACTIONS and action in data:
            try:
                data["value"] = bulk_value(action, data[action], self.user)
            except ValidationError as exc:
                self.add_error(action, exc)
        if not data.get("matching") and not data.get("ticket") and "ticket" not in self.errors:
            self.add_error("ticket", "Tick at least one ticket, or choose every ticket matching the filters.")
        return data


class SavedViewForm(forms.Form):
    """Save the filters shown as a view (``query``: the queue's query string), or rename one."""

    name = forms.CharField(max_length=60)
    shared = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4000)


class MergeForm(forms.Form):
    """The ticket page's merge: the target, by reference (ACME-12) or id."""

    into = forms.CharField(max_length=30, error_messages={"required": "Name the ticket to merge into."})


class LinkForm(forms.Form):
    kind = forms.ChoiceField(choices=LinkAs.choices)
    ticket = forms.CharField(max_length=30, error_messages={"required": "Name the ticket to link."})


class LinkRemoveForm(forms.Form):
    link = IdField(what="a link's id")


class CollaboratorForm(forms.Form):
    """A colleague to copy on the ticket: a user of this customer by email or id."""

    user = forms.CharField(max_length=254, error_messages={"required": "Give the colleague's email."})


class CollaboratorRemoveForm(forms.Form):
    user = IdField(what="a user id")


class WatchForm(forms.Form):
    watch = FlagField(required=False)
