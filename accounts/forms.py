from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from accounts.login import InvalidCredentials, LoginThrottled, sign_in
from accounts.models import User
from audit.middleware import client_ip
from tenants.access import may_sign_in_on_host


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
            )
        except LoginThrottled as exc:
            raise forms.ValidationError(str(exc), code="throttled") from None
        except InvalidCredentials:
            raise forms.ValidationError(
                "The email or password is not correct.", code="invalid_login"
            ) from None
        if not may_sign_in_on_host(user, getattr(self.request, "tenant", None)):
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
