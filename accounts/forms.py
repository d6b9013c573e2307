from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts import signins
from accounts.login import InvalidCredentials, LoginThrottled, sign_in
from accounts.models import OCCASIONAL_DEFAULTS, SCOPE_LEVELS, Licence, Scope, ScopeLevel, User, UserKind
from accounts.services import AgentChanges, AgentFields
from audit.middleware import client_ip
from audit.models import Channel
from core.changes import UNSET
from serviflow.pages import problem_of
from tenants.access import may_sign_in_on_host
from tenants.models import Customer


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user: User | None = None
        self.retry_after: int | None = None  # seconds, when the attempt was throttled
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            user = sign_in(
                self.request,
                email=data["email"],
                password=data["password"],
                remote_addr=client_ip(self.request),
                channel=Channel.WEB,
            )
        except LoginThrottled as exc:
            self.retry_after = exc.retry_after
            raise forms.ValidationError(str(exc), code="throttled") from None
        except InvalidCredentials:
            raise forms.ValidationError(
                "The email or password is not correct.", code="invalid_login"
            ) from None
        if not may_sign_in_on_host(user, getattr(self.request, "tenant", None)):
            signins.record(
                signins.FAILED,
                user=None,
                channel=Channel.WEB,
                remote_addr=client_ip(self.request),
                email=user.email,
                reason=f"not a person of this host ({self.request.get_host()[:100]})",
            )
            # Same words as a wrong password: this host does not reveal who exists elsewhere.
            raise forms.ValidationError("The email or password is not correct.", code="invalid_login")
        self.user = user
        return data


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, initial="API token")


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="New password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Repeat it", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return data


SCOPE_LABELS: dict[str, str] = {str(scope): str(scope.label) for scope in Scope}
LEVEL_LABELS: dict[str, str] = {str(level): str(level.label) for level in ScopeLevel}


class CustomerChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        customer: Customer = obj
        return customer.name if customer.is_active else f"{customer.name} (archived)"


class AgentForm(forms.Form):
    """The agent pages' inputs, turned into what ``agent_create`` and ``agent_update`` take. The
    rules and their messages are the services'; ``add_workflow_error`` puts each refusal next to
    the input it names."""

    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    name = forms.CharField(max_length=150)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        initial="UTC",
        help_text="An IANA time zone, such as Europe/London: where the agent's day starts and ends.",
        widget=forms.TextInput(attrs={"list": "timezones", "spellcheck": "false"}),
    )
    licence = forms.ChoiceField(
        choices=Licence.choices,
        initial=Licence.FULL_TIME,
        widget=forms.RadioSelect,
        help_text="Full-time agents count as a licence each; occasional agents use a day pass per day "
        "they work, within the scopes below.",
    )
    is_admin = forms.BooleanField(
        required=False,
        label="Provider admin",
        help_text="Changes the provider's configuration and works every customer. Always full-time.",
    )
    all_customers = forms.BooleanField(
        required=False, label="All customers", help_text="Present and future ones."
    )
    customers = CustomerChoiceField(
        queryset=Customer.objects.customers().order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The customers this agent works, unless all customers are ticked.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to send the agent an activation email to choose one.",
    )

    def __init__(self, *args: Any, agent: User | None = None, **kwargs: Any) -> None:
        if agent is not None:
            kwargs.setdefault("initial", self.initial_for(agent))
        super().__init__(*args, **kwargs)
        for scope, levels in SCOPE_LEVELS.items():
            self.fields[scope] = forms.ChoiceField(
                label=SCOPE_LABELS[scope],
                choices=[(level, LEVEL_LABELS[level]) for level in levels],
                initial=OCCASIONAL_DEFAULTS[scope],
            )
        if agent is not None:
            self.fields["password"].help_text = "Leave empty to keep the current password."

    @staticmethod
    def initial_for(agent: User) -> dict[str, Any]:
        permissions = {**OCCASIONAL_DEFAULTS, **(agent.permissions or {})}
        return {
            "email": agent.email,
            "name": agent.name,
            "timezone": agent.timezone,
            "licence": agent.licence,
            "is_admin": agent.kind == UserKind.PROVIDER_ADMIN,
            "all_customers": agent.all_customers,
            "customers": [membership.customer for membership in agent.memberships.all()],
            **{scope: permissions[scope] for scope in SCOPE_LEVELS},
        }

    def scope_fields(self) -> list[forms.BoundField]:
        return [self[scope] for scope in SCOPE_LEVELS]

    def _permissions(self) -> dict[str, str] | None:
        if self.cleaned_data["licence"] != Licence.OCCASIONAL:
            return None
        return {scope: self.cleaned_data[scope] for scope in SCOPE_LEVELS}

    def _works_all(self) -> bool:
        """Admins work every customer whatever is ticked (the services make sure of it)."""
        return bool(self.cleaned_data["all_customers"] or self.cleaned_data["is_admin"])

    def agent_fields(self) -> AgentFields:
        """For ``agent_create``."""
        data = self.cleaned_data
        return AgentFields(
            email=data["email"],
            name=data["name"],
            licence=data["licence"],
            timezone=data["timezone"],
            is_admin=data["is_admin"],
            all_customers=data["all_customers"],
            customers=() if self._works_all() else tuple(data["customers"]),
            permissions=self._permissions(),
        )

    def changes(self) -> AgentChanges:
        """For ``agent_update``: every field of the page (the service saves what differs)."""
        data = self.cleaned_data
        every = self._works_all()
        permissions = self._permissions()
        return AgentChanges(
            email=data["email"],
            name=data["name"],
            timezone=data["timezone"],
            licence=data["licence"],
            is_admin=data["is_admin"],
            all_customers=every,
            customers=() if every else tuple(data["customers"]),
            permissions=permissions if permissions is not None else UNSET,
            password=data["password"] or UNSET,
        )

    def add_workflow_error(self, exc: Exception) -> None:
        """A refusal from ``accounts.services`` under the input it names, else above the form."""
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for name, messages in exc.message_dict.items():
                if name in self.fields:
                    self.add_error(name, messages)
                else:
                    self.add_error(None, [f"{name.capitalize()}: {message}" for message in messages])
            return
        self.add_error(None, problem_of(exc)[1])
