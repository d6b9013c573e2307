"""The console's mailbox form: what ``mail.mailboxes.services`` takes, read as the API reads it
(the service checks the host, the texts and the customer, for both)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core import fields
from mail.mailboxes import services
from tenants.models import Customer


class MailboxForm(forms.Form):
    host = forms.CharField(max_length=services.HOST_MAX, help_text="imap.example.com")
    port = fields.IntegerField(minimum=1, maximum=65535, initial=993, help_text="993 with TLS, 143 without")
    use_ssl = forms.BooleanField(
        required=False, initial=True, label="TLS (IMAPS; the certificate is checked)"
    )
    username = forms.CharField(max_length=services.USERNAME_MAX, strip=False, label="User name")
    password = forms.CharField(
        max_length=services.PASSWORD_MAX,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; leave it empty to keep the one stored.",
    )
    folder = forms.CharField(max_length=services.FOLDER_MAX, strip=False, initial="INBOX")
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.active().order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label="None: the provider's shared mailbox (routed by sender)",
        help_text="Mail of a mailbox pinned to a customer goes to that customer.",
    )

    def __init__(self, *args: Any, new: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new
        if new:
            self.fields["password"].help_text = "Stored encrypted, never shown again."

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password") or ""
        if self.new and not password:
            raise ValidationError("Give the mailbox's password.")
        return password

    def add_workflow_error(self, exc: ValidationError) -> None:
        """The service's refusal under the field it names."""
        for name, messages in exc.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)
