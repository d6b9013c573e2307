"""Forms of customer users, for the console (provider staff, the customer's own agents) and the
portal (the customer's admins): what ``people.services`` takes. Who may set what is the
services' rule; the forms only leave out what a page does not offer (the SLA override outside
the provider's staff, the password in the portal, the role of an agent-level account)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import CustomerRole, User
from accounts.services import check_email_available, check_password, normalize_email
from core.changes import UNSET
from imports.csvfile import parse_csv
from people.models import CustomerUser
from people.services import CustomerUserChanges, CustomerUserFields
from sla.forms import WorkflowErrorsMixin
from sla.models import SlaPolicy
from tenants.forms import timezone_field

# The roles a page gives: agent access is the provider's to grant (the API, issue 12's rules).
ROLES = [(CustomerRole.USER.value, "User"), (CustomerRole.ADMIN.value, "Customer admin")]
PASSWORD_HELP = "Leave empty to send an invitation email with an activation link instead."  # noqa: S105


def _password(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        **kwargs,
    )


class CustomerUserForm(WorkflowErrorsMixin, forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    name = forms.CharField(max_length=150)
    timezone = timezone_field(required=False)
    role = forms.ChoiceField(choices=ROLES, initial=CustomerRole.USER)
    password = _password(help_text=PASSWORD_HELP)
    sla_policy = forms.ModelChoiceField(
        queryset=SlaPolicy.objects.order_by("name"),
        required=False,
        empty_label="None: the ticket's CI, the customer's default or the provider's decides",
        label="SLA override",
        help_text="This person's tickets run on this policy (a CFO's 2-hour response, say), unless "
        "the ticket itself has one.",
    )

    def __init__(
        self,
        *args: Any,
        profile: CustomerUser | None = None,
        sets_policies: bool = False,
        sets_passwords: bool = True,
        **kwargs: Any,
    ) -> None:
        self.profile = profile
        if profile is not None:
            kwargs.setdefault("initial", self.initial_for(profile))
        super().__init__(*args, **kwargs)
        if not sets_policies:
            del self.fields["sla_policy"]
        if not sets_passwords:
            del self.fields["password"]
        elif profile is not None:
            self.fields["password"].help_text = "Leave empty to keep the current password."
        if profile is not None and profile.user.customer_role == CustomerRole.AGENT:
            del self.fields["role"]  # agent access is granted and removed by the provider only

    @staticmethod
    def initial_for(profile: CustomerUser) -> dict[str, Any]:
        user = profile.user
        return {
            "email": user.email,
            "name": user.name,
            "timezone": user.timezone,
            "role": user.customer_role,
            "sla_policy": profile.sla_policy_id,
        }

    def _given(self, name: str) -> Any:
        return self.cleaned_data[name] if name in self.fields else UNSET

    def user_fields(self) -> CustomerUserFields:
        """For ``customer_user_create``."""
        data = self.cleaned_data
        return CustomerUserFields(
            email=data["email"],
            name=data["name"],
            role=data.get("role") or CustomerRole.USER,
            timezone=data["timezone"] or "UTC",
            sla_policy=data.get("sla_policy"),
        )

    def new_password(self) -> str | None:
        return self.cleaned_data.get("password") or None

    def changes(self) -> CustomerUserChanges:
        """For ``customer_user_update``: every field of the page (the service saves what differs)."""
        data = self.cleaned_data
        return CustomerUserChanges(
            email=data["email"],
            name=data["name"],
            timezone=data["timezone"] or UNSET,
            role=self._given("role"),
            sla_policy=self._given("sla_policy"),
            password=self.new_password() or UNSET,
        )


class StateForm(forms.Form):
    """Deactivate (``active`` false) or reactivate a user."""

    active = forms.BooleanField(required=False)


# --- the new-customer wizard's first users --------------------------------------------------------


class FirstUserForm(forms.Form):
    """One typed-in first user of a new customer; an empty row is skipped."""

    email = forms.EmailField(
        max_length=254, required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=ROLES, initial=CustomerRole.USER)
    password = _password(help_text=PASSWORD_HELP)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email"):
            if data.get("name") or data.get("password"):
                self.add_error("email", "An email address is required.")
            return data
        email = normalize_email(data["email"])
        if not (data.get("name") or "").strip():
            self.add_error("name", "A name is required.")
        try:
            check_email_available(email)
        except forms.ValidationError as exc:
            self.add_error("email", exc.message_dict["email"])
        if data.get("password"):
            try:
                check_password(data["password"], User(email=email, name=data.get("name") or ""))
            except forms.ValidationError as exc:
                self.add_error("password", exc.message_dict["password"])
        return data

    @property
    def filled(self) -> bool:
        return bool(self.cleaned_data.get("email"))


class FirstUsersBase(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            email = normalize_email(form.cleaned_data.get("email") or "")
            if email and email in seen:
                form.add_error("email", "This email address is given twice.")
            seen.add(email)


FIRST_USER_ROWS = 5
FirstUsersFormSet = forms.formset_factory(
    FirstUserForm,
    formset=FirstUsersBase,
    extra=FIRST_USER_ROWS,
    max_num=50,
    absolute_max=50,
    validate_max=True,
)


class FirstUsersFileForm(forms.Form):
    """First users read from a CSV file into the wizard's rows (``imports.csvfile``: encodings,
    delimiters, limits and formula cells as for an import). Columns: email (required), name,
    role; ``customer`` may be left out or name the new customer; other import columns are
    refused by name as in an import (time zone and SLA override are set later)."""

    users_csv = forms.FileField(label="Or read them from a CSV file (email, name, role)")

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_users_csv(self) -> list[dict[str, str]]:
        try:
            table = parse_csv(self.cleaned_data["users_csv"].read(), kind="users", required=("email",))
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        rows: list[dict[str, str]] = []
        problems: list[str] = []
        for row in table.rows:
            values = row.values
            if row.problem is not None:
                problems.append(f"Line {row.line}: {row.problem[0]}: {row.problem[1]}")
            elif values.get("customer") not in (None, "", self.slug):
                problems.append(f"Line {row.line}: customer: this file is for '{self.slug}'.")
            elif values.get("timezone") or values.get("sla_policy"):
                problems.append(
                    f"Line {row.line}: time zone and SLA override are set after the customer exists."
                )
            elif values.get("role", "") not in ("", *(value for value, _ in ROLES)):
                problems.append(f"Line {row.line}: role: use user or admin.")
            else:
                rows.append(
                    {
                        "email": values["email"],
                        "name": values.get("name", ""),
                        "role": values.get("role") or CustomerRole.USER,
                    }
                )
        if problems:
            raise forms.ValidationError(problems[:10])
        return rows
