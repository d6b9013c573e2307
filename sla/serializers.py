"""Serializers of the SLA configuration API: business-hours profiles and SLA policies.

They check only the JSON types DRF knows; the rules (times, overlaps, zones, dates, targets,
the one default) are ``sla.services``'s, shared with the console. A refusal names the value at
fault by its path, always in the same shape, as the keys of ``fields`` in the error envelope:

- top-level fields by name: ``name``, ``timezone``, ``schedule``, ``holidays``, ``targets``,
  ``warning_percent``, ``is_default``, ``country``, ``years``...;
- inside an object with a dot: ``schedule.mon``, ``targets.P2``, ``targets.P2.resolution``;
- list items with an index in brackets: ``schedule.mon[1]`` (the second interval of Monday),
  ``holidays[0]``.

For example ``{"code": "invalid", "detail": "...", "fields": {"schedule.mon[1]": ["overlaps
schedule.mon[0]"]}}``. ``schedule`` is a whole-profile refusal (no open time at all).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.parsers import is_id
from serviflow.api.fields import InstantField, TimezoneField
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from sla.engine.calendar import WEEKDAYS, ProfileError, calendar_for
from sla.engine.clocks import CLOCK_STATE
from sla.engine.keeping import PolicyTargetsMissing, targets_of
from sla.engine.simulate import MAX_EVENTS, Simulation, StatusEvent, simulate
from sla.models import PRIORITIES, BusinessHours, SlaPolicy
from sla.services import MAX_TARGET_MINUTES, TARGET_CLOCKS, years_parse
from tenants.access import require_sets_policies


class PolicyField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """An SLA policy override by id (on a user, a ticket, a CI). Only provider staff set one:
    anyone else gets 403 as soon as the field is given, before the id is looked at, so the
    answer never tells which policies exist. Needs the request in the serializer's context."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(queryset=SlaPolicy.objects.all(), **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is not serializers.empty:
            require_sets_policies(self.context["request"].user)
        return super().run_validation(data)


_INTERVAL = {
    "type": "array",
    "items": {"type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", "example": "09:00"},
    "minItems": 2,
    "maxItems": 2,
    "description": 'A local interval [start, end): "09:00"-"17:00"; end may be "24:00".',
}
SCHEDULE_SCHEMA = {
    "type": "object",
    "description": "For each weekday zero or more non-overlapping local intervals. Responses always "
    "list all seven days; a day left out of a request is closed.",
    "properties": {day: {"type": "array", "items": _INTERVAL} for day in WEEKDAYS},
    "additionalProperties": False,
    "example": {**{day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}, "sat": [], "sun": []},
}
HOLIDAYS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "format": "date"},
    "description": "Whole local days without business time, as plain dates, sorted.",
    "example": ["2026-12-25", "2026-12-28"],
}
TARGETS_SCHEMA = {
    "type": "object",
    "description": "Exactly P1-P4, each with first_response <= resolution, in business minutes.",
    "properties": {
        priority: {
            "type": "object",
            "properties": {
                clock: {"type": "integer", "minimum": 1, "maximum": MAX_TARGET_MINUTES}
                for clock in TARGET_CLOCKS
            },
            "required": list(TARGET_CLOCKS),
            "additionalProperties": False,
        }
        for priority in PRIORITIES
    },
    "required": list(PRIORITIES),
    "additionalProperties": False,
}


@extend_schema_field(SCHEDULE_SCHEMA)
class ScheduleField(serializers.JSONField):
    def to_representation(self, value: Any) -> Any:
        stored = value if isinstance(value, dict) else {}
        return {day: stored.get(day) or [] for day in WEEKDAYS}


@extend_schema_field(HOLIDAYS_SCHEMA)
class HolidaysField(serializers.JSONField):
    pass


@extend_schema_field(TARGETS_SCHEMA)
class TargetsField(serializers.JSONField):
    pass


class BusinessHoursSerializer(InputModelSerializer):
    """A business-hours profile: ``timezone`` (IANA), weekly ``schedule``, ``holidays``."""

    name = serializers.CharField(max_length=100)
    timezone = TimezoneField(default="UTC")
    schedule = ScheduleField()
    holidays = HolidaysField(default=list)  # type: ignore[arg-type]  # the stubs think JSON is an object

    class Meta:
        model = BusinessHours
        fields = ["id", "name", "timezone", "schedule", "holidays"]
        read_only_fields = ["id"]


class FillHolidaysSerializer(InputSerializer):
    """``{country, years: "2026-2028"}`` or ``{country, from: 2026, to: 2028}``; optionally a
    ``subdivision`` (GB: ENG, SCT, WLS, NIR; US: states...)."""

    country = serializers.CharField(max_length=8, help_text="ISO 3166 code, such as GB or DE.")
    subdivision = serializers.CharField(max_length=10, required=False, allow_blank=True)
    years = serializers.CharField(
        max_length=20, required=False, help_text='One year ("2026") or a range ("2026-2028").'
    )
    to = serializers.IntegerField(required=False, help_text="The last year (with from).")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it cannot be declared as a class attribute.
        fields["from"] = serializers.IntegerField(required=False, help_text="The first year (with to).")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("from"), attrs.get("to")
        if "years" in attrs:
            attrs["year_range"] = years_parse(attrs["years"])
        elif first is not None:
            attrs["year_range"] = range(first, (last if last is not None else first) + 1)
        else:
            message = 'Give years ("2026" or "2026-2028"), or from and to.'
            raise serializers.ValidationError({"years": [message]})
        return attrs


PERCENT = "Give a percentage between 1 and 99."


class SlaPolicySerializer(InputModelSerializer):
    """An SLA policy: ``targets`` per priority in business minutes, on ``business_hours`` (a
    profile id, or null for 24x7), ``warning_percent`` of a target, ``is_default``."""

    name = serializers.CharField(max_length=100)
    business_hours = serializers.PrimaryKeyRelatedField(
        queryset=BusinessHours.objects.all(),
        allow_null=True,
        required=False,
        help_text="A business-hours profile id; null runs 24x7.",
    )
    targets = TargetsField()
    warning_percent = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=99,
        error_messages={"min_value": PERCENT, "max_value": PERCENT},
        help_text="1-99; 80 when not given.",
    )
    is_default = serializers.BooleanField(
        required=False, help_text="The provider default; exactly one policy is, at all times."
    )

    class Meta:
        model = SlaPolicy
        fields = ["id", "name", "business_hours", "targets", "warning_percent", "is_default"]
        read_only_fields = ["id"]


# --- the engine on given instants (POST /api/v1/sla/simulate/) -----------------------------------


# The engine walks business time week by week: a span of centuries took seconds of CPU per call.
MAX_SPAN = timedelta(days=10 * 366)
SPAN_MESSAGE = "Simulate at most ten years after created_at."


@extend_schema_field(
    {
        "anyOf": [
            {"type": "integer", "minimum": 1, "description": "A business-hours profile id."},
            {
                "type": "object",
                "description": "A profile given inline.",
                "properties": {
                    "timezone": {"type": "string", "description": "IANA", "example": "Europe/London"},
                    "schedule": SCHEDULE_SCHEMA,
                    "holidays": HOLIDAYS_SCHEMA,
                },
                "required": ["timezone", "schedule"],
            },
        ],
        "nullable": True,
        "description": "null runs 24x7.",
    }
)
class ProfileRefField(serializers.JSONField):
    json_types = (int, dict)


class ClockTargetsSerializer(InputSerializer):
    first_response = serializers.IntegerField(min_value=1, max_value=MAX_TARGET_MINUTES)
    resolution = serializers.IntegerField(min_value=1, max_value=MAX_TARGET_MINUTES)


class SimulatedTargetsSerializer(InputSerializer):
    """Targets in business minutes per priority; the simulated priority's must be there."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {priority: ClockTargetsSerializer(required=False) for priority in PRIORITIES}


class SimulateEventSerializer(InputSerializer):
    at = InstantField()
    status = serializers.ChoiceField(choices=sorted(CLOCK_STATE))


class SimulateSerializer(InputSerializer):
    """Either ``policy`` (an id) or ``targets`` (with ``business_hours``: an id, null for 24x7, or
    an inline ``{timezone, schedule, holidays}``)."""

    policy = serializers.PrimaryKeyRelatedField(
        queryset=SlaPolicy.objects.all(), required=False, allow_null=True
    )
    business_hours = ProfileRefField(required=False, allow_null=True)
    targets = SimulatedTargetsSerializer(required=False)
    warning_percent = serializers.IntegerField(min_value=1, max_value=99, required=False)
    priority = serializers.ChoiceField(choices=PRIORITIES)
    created_at = InstantField()
    first_response_at = InstantField(required=False, allow_null=True)
    events = SimulateEventSerializer(many=True, required=False)
    now = InstantField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        policy: SlaPolicy | None = attrs.get("policy")
        if policy is None and "targets" not in attrs:
            raise serializers.ValidationError(
                {"policy": ["Give a policy id, or targets (and business_hours)."]}
            )
        if policy is not None:
            attrs["profile"] = policy.business_hours.as_profile() if policy.business_hours else None
            attrs["snapshot"] = {
                "policy": {"id": policy.pk, "name": policy.name},
                "targets": policy.targets,
                "warning_percent": attrs.get("warning_percent", policy.warning_percent),
            }
        else:
            attrs["profile"] = _profile(attrs.get("business_hours"))
            attrs["snapshot"] = {
                "policy": None,
                "targets": attrs["targets"],
                "warning_percent": attrs.get("warning_percent", 80),
            }
        try:
            targets_of(attrs["snapshot"], attrs["priority"])
        except PolicyTargetsMissing as exc:
            raise serializers.ValidationError({"targets": [str(exc)]}) from None
        events = attrs.get("events") or []
        if len(events) > MAX_EVENTS:
            raise serializers.ValidationError({"events": [f"At most {MAX_EVENTS} events."]})
        latest = attrs["created_at"] + MAX_SPAN
        for name in ("first_response_at", "now"):
            if attrs.get(name) is not None and attrs[name] > latest:
                raise serializers.ValidationError({name: [SPAN_MESSAGE]})
        if any(event["at"] > latest for event in events):
            raise serializers.ValidationError({"events": [SPAN_MESSAGE]})
        previous = attrs["created_at"]
        for index, event in enumerate(events):
            if event["at"] < previous:
                raise serializers.ValidationError(
                    {f"events[{index}].at": ["Events must be in time order, none before created_at."]}
                )
            previous = event["at"]
        return attrs

    def simulation(self) -> Simulation:
        """The engine run on the validated input."""
        data = self.validated_data
        return simulate(
            snapshot=data["snapshot"],
            profile=data["profile"],
            priority=data["priority"],
            created_at=data["created_at"],
            events=[
                StatusEvent(at=event["at"], status=event["status"]) for event in data.get("events") or []
            ],
            first_response_at=data.get("first_response_at"),
            now=data.get("now"),
        )


def _profile(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if is_id(value):
        hours = BusinessHours.objects.filter(pk=int(str(value))).first()
        if hours is None:
            raise serializers.ValidationError({"business_hours": [f"No business-hours profile {value}."]})
        return hours.as_profile()
    if not isinstance(value, dict):
        raise serializers.ValidationError(
            {"business_hours": ["Give a profile id, null (24x7) or {timezone, schedule, holidays}."]}
        )
    if not isinstance(value.get("holidays", []), list):  # the calendar would take null for none
        raise serializers.ValidationError(
            {"business_hours.holidays": ['Give a list of dates, e.g. ["2026-12-25"].']}
        )
    try:
        calendar_for(value)
    except ProfileError as exc:
        raise serializers.ValidationError({f"business_hours.{exc.field}": [exc.message]}) from None
    return {name: value.get(name) for name in ("timezone", "schedule", "holidays")}


class ReapplySerializer(InputSerializer):
    confirm = serializers.CharField(
        required=False, help_text="The fingerprint of the preview to apply; without it, only the preview."
    )
