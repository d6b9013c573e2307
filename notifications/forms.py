"""Console and portal forms of notification rules, their preview and a person's preferences."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import User
from core.parsers import BIGINT_MAX
from notifications.models import Channel, Role, RuleEvent


class RuleForm(forms.Form):
    name = forms.CharField(max_length=120, required=False, help_text="What the rule is for.")
    event = forms.ChoiceField(choices=RuleEvent.choices)
    roles = forms.MultipleChoiceField(
        choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Roles"
    )
    people = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Named people",
        help_text="Ctrl-click for several.",
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, initial=Channel.values, widget=forms.CheckboxSelectMultiple
    )
    only_unassigned = forms.BooleanField(required=False, label="Only while nobody is assigned")
    mutable = forms.BooleanField(required=False, initial=True, label="Recipients may mute it")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = people  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("roles") and not data.get("people"):
            raise forms.ValidationError("Choose at least one role or person.")
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        recipients = [{"role": role} for role in data["roles"]] + [
            {"user": user.pk} for user in data["people"]
        ]
        return {
            "name": data["name"],
            "event": data["event"],
            "recipients": recipients,
            "channels": list(data["channels"]),
            "only_unassigned": data["only_unassigned"],
            "mutable": data["mutable"],
            "enabled": data["enabled"],
        }


class PreviewForm(forms.Form):
    ticket = forms.IntegerField(min_value=1, max_value=BIGINT_MAX, label="Ticket id")


class PreferenceForm(forms.Form):
    """Quiet hours, and a checkbox per event and channel that may be muted (``mute-<event>-<channel>``)."""

    quiet_from = forms.TimeField(required=False, label="Quiet from", help_text="Local time, e.g. 22:00.")
    quiet_to = forms.TimeField(required=False, label="Quiet until", help_text="Local time, e.g. 07:00.")

    def __init__(self, *args: Any, mutable: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events = [RuleEvent(event) for event in mutable]
        for event in self.events:
            for channel in Channel:
                self.fields[f"mute-{event.value}-{channel.value}"] = forms.BooleanField(
                    required=False, label=f"Mute {channel.label.lower()}"
                )

    def rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (event.label, [self[f"mute-{event.value}-{channel.value}"] for channel in Channel])
            for event in self.events
        ]

    def muted(self) -> dict[str, list[str]]:
        data = self.cleaned_data
        found = {
            event.value: [
                channel.value for channel in Channel if data.get(f"mute-{event.value}-{channel.value}")
            ]
            for event in self.events
        }
        return {event: channels for event, channels in found.items() if channels}
