"""Console forms for the SLA configuration. They only turn the page's inputs into the shapes
``sla.services`` takes (one text box of intervals per weekday, one date per line, a targets table);
the rules and their messages are the services', and ``add_workflow_error`` shows each refusal
next to the input it names."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.fields import IdField
from core.parsers import parse_json_text
from serviflow.pages import problem_of
from sla.engine.calendar import WEEKDAYS, ProfileError, parse_schedule
from sla.models import PRIORITIES, BusinessHours
from sla.services import TARGET_CLOCKS

DAY_LABELS = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
_SEPARATORS = re.compile(r"[,;]")
_DASH = re.compile(r"\s*[-\u2013]\s*")
_INTERVAL_PATH = re.compile(r"schedule\.\w+\[(\d+)\]")


def intervals_text(intervals: list[list[str]]) -> str:
    """``[["09:00", "12:00"], ["13:00", "17:00"]]`` -> ``"09:00-12:00, 13:00-17:00"``."""
    return ", ".join(f"{start}-{end}" for start, end in intervals)


def intervals_parse(text: str) -> list[list[str]]:
    """The inverse of ``intervals_text``; the times themselves are checked by the services."""
    pairs: list[list[str]] = []
    for piece in _SEPARATORS.split(text or ""):
        if not piece.strip():
            continue
        parts = _DASH.split(piece.strip())
        if len(parts) != 2 or not all(parts):
            raise ValidationError(
                f"'{piece.strip()}': write an interval as 09:00-17:00, several separated by commas."
            )
        pairs.append(parts)
    return pairs


def day_preview(text: str, day: str) -> tuple[list[list[str]], str | None]:
    """One weekday's intervals for the live grid, or why they cannot be drawn."""
    try:
        pairs = intervals_parse(text)
        parse_schedule({day: pairs})
    except ValidationError as exc:
        return [], " ".join(exc.messages)
    except ProfileError as exc:
        if exc.field == "schedule":  # only "no open time at all": this day is simply closed
            return [], None
        return [], _interval_message(exc.field, exc.message)
    return pairs, None


def _interval_message(path: str, message: str) -> str:
    """``schedule.mon[1]``: "overlaps schedule.mon[0]" -> "Interval 2: overlaps interval 1"."""
    message = _INTERVAL_PATH.sub(lambda match: f"interval {int(match.group(1)) + 1}", message)
    found = _INTERVAL_PATH.match(path)
    return f"Interval {int(found.group(1)) + 1}: {message}" if found else message


class WorkflowErrorsMixin:
    """Show a refusal from ``sla.services`` under the input it names (by path), else above."""

    def field_for(self, path: str) -> str | None:
        return path if path in self.fields else None  # type: ignore[attr-defined]

    def add_workflow_error(self, exc: Exception) -> None:
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            for path, messages in exc.message_dict.items():
                field = self.field_for(path)
                text = [_interval_message(path, message) for message in messages]
                self.add_error(field, text if field else [f"{path}: {message}" for message in text])  # type: ignore[attr-defined]
            return
        named: str | None = getattr(exc, "field", None)
        self.add_error(self.field_for(named) if named else None, problem_of(exc)[1])  # type: ignore[attr-defined]


class ProfileForm(WorkflowErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        initial="UTC",
        help_text="An IANA time zone, such as Europe/London.",
    )
    holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "placeholder": "2026-12-25"}),
        help_text="Whole days without business time: one date (YYYY-MM-DD) per line.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            self.fields[day] = forms.CharField(
                required=False,
                label=DAY_LABELS[day],
                widget=forms.TextInput(attrs={"placeholder": "closed, or 09:00-17:00", "class": "day-input"}),
            )

    @staticmethod
    def initial_for(profile: BusinessHours) -> dict[str, Any]:
        schedule = profile.schedule if isinstance(profile.schedule, dict) else {}
        return {
            "name": profile.name,
            "timezone": profile.timezone,
            "holidays": "\n".join(profile.holidays),
            **{day: intervals_text(schedule.get(day) or []) for day in WEEKDAYS},
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        schedule: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            try:
                schedule[day] = intervals_parse(cleaned.get(day, ""))
            except ValidationError as exc:
                self.add_error(day, exc)
        cleaned["schedule"] = schedule
        cleaned["holiday_list"] = [
            text for text in re.split(r"[\s,;]+", cleaned.get("holidays") or "") if text
        ]
        return cleaned

    def field_for(self, path: str) -> str | None:
        if path.startswith("schedule."):
            day = path.removeprefix("schedule.")[:3]
            return day if day in WEEKDAYS else None
        if path.startswith("holidays"):
            return "holidays"
        return super().field_for(path)

    def day_fields(self) -> list[forms.BoundField]:
        return [self[day] for day in WEEKDAYS]


def _this_year() -> int:
    return date.today().year  # noqa: DTZ011  # a default for a form field, in the server's year


class FillHolidaysForm(WorkflowErrorsMixin, forms.Form):
    country = forms.CharField(max_length=8, help_text="ISO code: GB, DE, US...")
    subdivision = forms.CharField(
        max_length=10, required=False, help_text="Optional: a region, such as SCT (Scotland) or BY (Bavaria)."
    )
    years = forms.CharField(max_length=20, help_text="A year (2026) or a range (2026-2028).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        year = _this_year()
        self.fields["years"].initial = f"{year}-{year + 1}"


def target_field(priority: str, clock: str) -> str:
    return f"{priority}_{clock}"


class PolicyForm(WorkflowErrorsMixin, forms.Form):
    name = forms.CharField(max_length=100)
    business_hours = forms.ModelChoiceField(
        queryset=BusinessHours.objects.order_by("name"),
        required=False,
        empty_label="None: 24\u00d77, every minute counts",
        label="Business hours",
    )
    warning_percent = forms.IntegerField(
        initial=80, label="Warning at (% of a target)", help_text="Between 1 and 99."
    )
    is_default = forms.BooleanField(
        required=False,
        label="Provider default",
        help_text="Applies when nothing more specific does. Exactly one policy is the default.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for priority in PRIORITIES:
            for clock in TARGET_CLOCKS:
                self.fields[target_field(priority, clock)] = forms.IntegerField(
                    label=f"{priority} {clock.replace('_', ' ')} (minutes)",
                    widget=forms.NumberInput(attrs={"min": 1, "step": 1, "class": "minutes"}),
                )

    @staticmethod
    def initial_for(targets: dict[str, dict[str, int]]) -> dict[str, Any]:
        return {
            target_field(priority, clock): (targets.get(priority) or {}).get(clock)
            for priority in PRIORITIES
            for clock in TARGET_CLOCKS
        }

    def targets(self) -> dict[str, dict[str, int]]:
        return {
            priority: {clock: self.cleaned_data[target_field(priority, clock)] for clock in TARGET_CLOCKS}
            for priority in PRIORITIES
        }

    def field_for(self, path: str) -> str | None:
        if path.startswith("targets."):
            parts = path.split(".")
            if len(parts) == 3 and target_field(parts[1], parts[2]) in self.fields:
                return target_field(parts[1], parts[2])
            if len(parts) == 2 and parts[1] in PRIORITIES:
                return target_field(parts[1], "first_response")
            return None
        return super().field_for(path)


class WeekForm(forms.Form):
    """What is typed in a profile's day inputs, for the week grid's live preview."""

    mon = forms.CharField(required=False, max_length=500)
    tue = forms.CharField(required=False, max_length=500)
    wed = forms.CharField(required=False, max_length=500)
    thu = forms.CharField(required=False, max_length=500)
    fri = forms.CharField(required=False, max_length=500)
    sat = forms.CharField(required=False, max_length=500)
    sun = forms.CharField(required=False, max_length=500)

    def days(self) -> dict[str, str]:
        """Each day's text; a day whose input is unreadable previews as closed."""
        self.is_valid()
        return {day: str(self.cleaned_data.get(day) or "") for day in WEEKDAYS}


class ReapplyForm(forms.Form):
    fingerprint = forms.CharField(required=False, max_length=128)

    def confirmed(self) -> str:
        """The fingerprint of the preview being confirmed ("" for none or an unreadable one)."""
        return str(self.cleaned_data.get("fingerprint") or "") if self.is_valid() else ""


EXAMPLE_TARGETS = (
    'write JSON, e.g. {"P1": {"first_response": 60, "resolution": 240}, ...}, or choose a policy.'
)


class SimulatorForm(forms.Form):
    """The console's simulator: a policy (or a profile and targets typed as JSON), a priority,
    the creation instant and status changes one per line ("2026-11-24T11:00Z pending"). The
    form reads the input; ``SimulateSerializer`` (the API's) judges it."""

    policy = IdField(required=False, what="a policy id")
    business_hours = IdField(required=False, what="a profile id")
    targets = forms.CharField(required=False, max_length=5000)
    priority = forms.CharField(required=False, max_length=10)
    created_at = forms.CharField(required=False, max_length=60)
    warning_percent = forms.CharField(required=False, max_length=10)
    first_response_at = forms.CharField(required=False, max_length=60)
    events = forms.CharField(required=False, max_length=50_000)

    def simulation_input(self) -> tuple[dict[str, Any], list[int], list[str]]:
        """The simulator's request body, the form line of each event and what could not be read
        at all (the serializer judges the rest)."""
        if not self.is_valid():
            return (
                {},
                [],
                [f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in self.errors.items()],
            )
        posted = self.cleaned_data
        problems: list[str] = []
        data: dict[str, Any] = {"priority": posted["priority"], "created_at": posted["created_at"]}
        if posted["policy"] is not None:
            data["policy"] = posted["policy"]
        else:
            data["business_hours"] = posted["business_hours"]
            try:
                data["targets"] = parse_json_text(posted["targets"] or "", field="targets")
            except ValidationError:
                problems.append(f"targets: {EXAMPLE_TARGETS}")
        for name in ("warning_percent", "first_response_at"):
            if value := posted[name].strip():
                data[name] = value
        events: list[dict[str, str]] = []
        lines: list[int] = []
        for number, line in enumerate(posted["events"].splitlines(), start=1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) != 2:
                problems.append(
                    f"events line {number}: write an instant and a status, e.g. 2026-11-24T11:00Z pending."
                )
                continue
            events.append({"at": words[0], "status": words[1]})
            lines.append(number)
        data["events"] = events
        return data, lines, problems
