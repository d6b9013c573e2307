"""``POST /api/v1/sla/simulate/``: the engine on given instants, for admins checking a policy.

The same code as live tickets: a timeline of segments built from the status events, the
calendar of the profile, ``sla.clocks`` for both clocks. Nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from sla.calendar import ProfileError, calendar_for
from sla.clocks import CLOCKS, ticket_clocks, timeline_move, timeline_start
from sla.engine import CLOCK_STATE, PolicyTargetsMissing, targets_of
from sla.explain import clock_json, segments_json
from sla.models import PRIORITIES, BusinessHours, SlaPolicy

MAX_EVENTS = 500


class SimulateEventSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=sorted(CLOCK_STATE))


class SimulateSerializer(serializers.Serializer[Any]):
    """Either ``policy`` (an id) or ``targets`` (with ``business_hours``: an id, null for 24x7, or
    an inline ``{timezone, schedule, holidays}``)."""

    policy = serializers.PrimaryKeyRelatedField(
        queryset=SlaPolicy.objects.all(), required=False, allow_null=True
    )
    business_hours = serializers.JSONField(required=False, allow_null=True)
    targets = serializers.JSONField(required=False)
    warning_percent = serializers.IntegerField(min_value=1, max_value=99, required=False)
    priority = serializers.ChoiceField(choices=PRIORITIES)
    created_at = serializers.DateTimeField()
    first_response_at = serializers.DateTimeField(required=False, allow_null=True)
    events = SimulateEventSerializer(many=True, required=False)
    now = serializers.DateTimeField(required=False, allow_null=True)

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
            targets = targets_of(attrs["snapshot"], attrs["priority"])
        except PolicyTargetsMissing as exc:
            raise serializers.ValidationError({"targets": [str(exc)]}) from None
        if any(value <= 0 for value in targets.values()):
            raise serializers.ValidationError({"targets": ["Targets are positive whole minutes."]})
        events = attrs.get("events") or []
        if len(events) > MAX_EVENTS:
            raise serializers.ValidationError({"events": [f"At most {MAX_EVENTS} events."]})
        previous = attrs["created_at"]
        for index, event in enumerate(events):
            if event["at"] < previous:
                raise serializers.ValidationError(
                    {f"events[{index}].at": ["Events must be in time order, none before created_at."]}
                )
            previous = event["at"]
        return attrs


def _profile(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        hours = BusinessHours.objects.filter(pk=int(value)).first()
        if hours is None:
            raise serializers.ValidationError({"business_hours": [f"No business-hours profile {value}."]})
        return hours.as_profile()
    if not isinstance(value, dict):
        raise serializers.ValidationError(
            {"business_hours": ["Give a profile id, null (24x7) or {timezone, schedule, holidays}."]}
        )
    try:
        calendar_for(value)
    except ProfileError as exc:
        raise serializers.ValidationError({f"business_hours.{exc.field}": [exc.message]}) from None
    return {name: value.get(name) for name in ("timezone", "schedule", "holidays")}


def simulate(data: dict[str, Any]) -> dict[str, Any]:
    """Run both clocks over the given status events; ``now`` defaults to the last instant given."""
    created: datetime = data["created_at"]
    segments = timeline_start(created, by="simulator")
    for event in data.get("events") or []:
        segments = timeline_move(
            segments, CLOCK_STATE[event["status"]], event["at"], by="simulator", reason=event["status"]
        )
    instants = [created, *(event["at"] for event in data.get("events") or [])]
    if data.get("first_response_at"):
        instants.append(data["first_response_at"])
    now = data.get("now") or max(instants)
    snapshot = data["snapshot"]
    calendar = calendar_for(data["profile"])
    views = ticket_clocks(
        calendar=calendar,
        segments=segments,
        targets=targets_of(snapshot, data["priority"]),
        warning_percent=int(snapshot["warning_percent"]),
        responded_at=data.get("first_response_at"),
        now=now,
    )
    return {
        "policy": snapshot["policy"],
        "priority": data["priority"],
        "targets": targets_of(snapshot, data["priority"]),
        "business_hours": data["profile"],
        "now": now,
        "first_response_due": views[CLOCKS[0]].due,
        "resolution_due": views[CLOCKS[1]].due,
        "first_response": clock_json(views[CLOCKS[0]], now),
        "resolution": clock_json(views[CLOCKS[1]], now),
        "segments": segments_json(calendar, segments, now),
    }
