"""Console forms of customers: the edit form and the new-customer wizard's steps. They turn the
page's inputs into what ``tenants.services`` and ``people.onboarding`` take; the rules and their
messages are the services' (``add_workflow_error`` puts each refusal next to its input)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.fields import LinesField
from sla.forms import FillHolidaysForm, PolicyForm, ProfileForm, WorkflowErrorsMixin
from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.models import Customer
from tenants.services import CustomerChanges, customer_email_domains, customer_portal_domains

TIMEZONE_HELP = "An IANA time zone, such as Europe/London."


def timezone_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label="Time zone",
        max_length=64,
        initial="UTC",
        help_text=TIMEZONE_HELP,
        widget=forms.TextInput(attrs={"list": "timezones", "spellcheck": "false"}),
        **kwargs,
    )


def _policies() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=SlaPolicy.objects.order_by("name"),
        required=False,
        empty_label="None: the provider default applies",
        label="Default SLA",
    )


def _profiles() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=BusinessHours.objects.order_by("name"),
        required=False,
        empty_label="None: 24\u00d77",
        label="Business hours",
    )


EMAIL_DOMAINS_HELP = "The mail domains the customer's people write from (acme.com), one per line."


class CustomerForm(WorkflowErrorsMixin, forms.Form):
    """A customer's edit page: what ``customer_update`` changes (the slug never changes)."""

    name = forms.CharField(max_length=200)
    timezone = timezone_field()
    default_sla = _policies()
    business_hours = _profiles()
    portal_domains = LinesField(
        label="More portal domains",
        max_length=5000,
        help_text="Host names the portal also answers on (support.acme.com), one per line, besides "
        "its own address. Point them at this server, and list them in ALLOWED_HOSTS.",
    )
    email_domains = LinesField(label="Mail domains", max_length=5000, help_text=EMAIL_DOMAINS_HELP)
    satisfaction_surveys = forms.BooleanField(
        required=False,
        label="Satisfaction surveys",
        help_text="Ask requesters to rate their tickets once resolved (by email and in the portal).",
    )

    @staticmethod
    def initial_for(customer: Customer) -> dict[str, Any]:
        return {
            "name": customer.name,
            "timezone": customer.timezone,
            "default_sla": customer.default_sla_id,
            "business_hours": customer.business_hours_id,
            "portal_domains": customer_portal_domains(customer),
            "email_domains": customer_email_domains(customer),
            "satisfaction_surveys": customer.settings.satisfaction_surveys,
        }

    def changes(self) -> CustomerChanges:
        data = self.cleaned_data
        return CustomerChanges(
            name=data["name"],
            timezone=data["timezone"],
            default_sla=data["default_sla"],
            business_hours=data["business_hours"],
            portal_domains=list(data["portal_domains"]),
            email_domains=list(data["email_domains"]),
            satisfaction_surveys=data["satisfaction_surveys"],
        )


# --- the new-customer wizard --------------------------------------------------------------------


class CustomerStartForm(WorkflowErrorsMixin, forms.Form):
    """Step 1: who the customer is."""

    name = forms.CharField(max_length=200)
    slug = forms.CharField(
        max_length=40,
        help_text="The portal's address and the customer's name in URLs: lowercase letters, digits "
        "and hyphens. It never changes.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    email_domains = LinesField(label="Mail domains", max_length=5000, help_text=EMAIL_DOMAINS_HELP)


NEW, EXISTING, NONE = "new", "existing", "none"


class _PickOrMake(WorkflowErrorsMixin, forms.Form):
    """A step that picks an existing object (the field ``pick``), makes a new one or goes without."""

    pick = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("choice") == EXISTING and not data.get(self.pick):
            self.add_error(self.pick, "Choose one, or make a new one.")
        return data


class HoursChoiceForm(_PickOrMake):
    """Step 2: the customer's time zone and business hours: a profile there is, a new one (the
    ``ProfileForm`` beside it, prefix ``new``, and holidays by country, prefix ``fill``) or none."""

    timezone = timezone_field()
    choice = forms.ChoiceField(
        choices=[(EXISTING, "An existing profile"), (NEW, "A new profile"), (NONE, "None: 24\u00d77")],
        initial=NEW,
        widget=forms.RadioSelect,
        label="Business hours",
    )
    profile = _profiles()
    pick = "profile"


class WizardProfileForm(ProfileForm):
    """A new profile for the customer: it keeps the customer's time zone (the step's own input)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["timezone"]
        for day in ("mon", "tue", "wed", "thu", "fri"):
            self.fields[day].initial = "09:00-17:00"


class WizardHolidaysForm(FillHolidaysForm):
    """A new profile's public holidays: optional in the wizard."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].required = False
        self.fields["years"].required = False


class PolicyChoiceForm(_PickOrMake):
    """Step 3: the default SLA: a policy there is, a new one (``WizardPolicyForm``, prefix
    ``new``) or none (the provider default applies)."""

    choice = forms.ChoiceField(
        choices=[
            (EXISTING, "An existing policy"),
            (NEW, "A new policy"),
            (NONE, "None: the provider default applies"),
        ],
        initial=NEW,
        widget=forms.RadioSelect,
        label="Default SLA",
    )
    policy = _policies()
    pick = "policy"


class WizardPolicyForm(PolicyForm):
    """A new policy for the customer: it runs on the customer's business hours and is never the
    provider default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["business_hours"]
        del self.fields["is_default"]
        if not self.is_bound:
            self.initial = {"warning_percent": 80, **PolicyForm.initial_for(STANDARD_TARGETS), **self.initial}
