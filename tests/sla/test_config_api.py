"""The SLA configuration API: business-hours profiles and SLA policies (provider level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from cmdb import services as cmdb_services
from people.services import CustomerUserChanges, customer_user_update
from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast, api_for
from tests.sla.conftest import open_ticket

PROFILES = "/api/v1/business-hours/"
POLICIES = "/api/v1/sla-policies/"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFFICE = {
    "name": "London office",
    "timezone": "Europe/London",
    "schedule": {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]},
    "holidays": ["2026-12-28", "2026-12-25"],
}
TARGETS: dict[str, dict[str, int]] = {
    "P1": {"first_response": 30, "resolution": 240},
    "P2": {"first_response": 60, "resolution": 480},
    "P3": {"first_response": 240, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 2880},
}


def _profile(**kw: Any) -> BusinessHours:
    values = {**OFFICE, **kw}
    profile: BusinessHours = BusinessHours.objects.create(**values)
    return profile


def _policy(name: str = "Gold", **kw: Any) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(name=name, targets=STANDARD_TARGETS, **kw)
    return policy


def _default() -> SlaPolicy:
    return SlaPolicy.objects.get(is_default=True)


def _audited(model: type[BusinessHours | SlaPolicy], pk: int, action: int) -> AuditEntry | None:
    content_type = ContentType.objects.get_for_model(model)
    entry: AuditEntry | None = AuditEntry.objects.filter(
        content_type=content_type, object_pk=str(pk), action=action
    ).last()
    return entry


# --- business-hours profiles ----------------------------------------------------------------------


def test_admin_creates_reads_updates_and_deletes_a_profile(cast: Cast) -> None:
    client = api_for(cast.alice)
    schedule = {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": [["10:00", "24:00"]]}
    created = client.post(PROFILES, {**OFFICE, "schedule": schedule}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    # Every weekday is listed, intervals are sorted, holidays sorted and distinct.
    assert body["schedule"] == {
        "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
        "tue": [],
        "wed": [],
        "thu": [],
        "fri": [],
        "sat": [["10:00", "24:00"]],
        "sun": [],
    }
    assert body["holidays"] == ["2026-12-25", "2026-12-28"] and body["timezone"] == "Europe/London"
    assert set(body) == {"id", "name", "timezone", "schedule", "holidays"}
    url = f"{PROFILES}{body['id']}/"
    assert client.get(url).json() == body
    assert [row["name"] for row in client.get(PROFILES).json()["results"]] == ["London office"]

    changed = client.patch(
        url, {"name": "UK office 2", "holidays": ["2027-01-01", "2027-01-01"]}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "UK office 2" and changed.json()["holidays"] == ["2027-01-01"]
    assert changed.json()["schedule"] == body["schedule"]  # untouched by a partial update
    entry = _audited(BusinessHours, body["id"], AuditEntry.Action.UPDATE)
    assert entry is not None and entry.actor == cast.alice and entry.channel == "api"

    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert not BusinessHours.objects.filter(pk=body["id"]).exists()
    assert _audited(BusinessHours, body["id"], AuditEntry.Action.DELETE) is not None


def test_a_profile_defaults_to_utc_and_no_holidays(cast: Cast) -> None:
    response = api_for(cast.alice).post(
        PROFILES, {"name": "Plain", "schedule": {"mon": [["08:00", "16:00"]]}}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["timezone"] == "UTC" and response.json()["holidays"] == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"schedule": {"mon": [["09:00", "12:00"], ["11:00", "17:00"]]}}, "schedule.mon[1]", "overlaps"),
        ({"schedule": {"mon": [["9am", "17:00"]]}}, "schedule.mon[0]", "not a time"),
        ({"schedule": {"mon": [["09:00", "25:00"]]}}, "schedule.mon[0]", "not a time"),
        ({"schedule": {"mon": [["24:00", "24:00"]]}}, "schedule.mon[0]", "24:00"),
        ({"schedule": {"tue": [["17:00", "09:00"]]}}, "schedule.tue[0]", "ends before it starts"),
        ({"schedule": {"tue": [["09:00"]]}}, "schedule.tue[0]", "pair"),
        ({"schedule": {"tue": "09:00-17:00"}}, "schedule.tue", "list"),
        ({"schedule": {"funday": [["09:00", "17:00"]]}}, "schedule.funday", "not a weekday"),
        ({"schedule": {day: [] for day in WEEKDAYS}}, "schedule", "no open time"),
        ({"schedule": {}}, "schedule", "no open time"),
        ({"schedule": [["09:00", "17:00"]]}, "schedule", "expected an object"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"timezone": ""}, "timezone", ""),
        ({"holidays": ["2026-12-25", "2026-13-01"]}, "holidays[1]", "not a date"),
        ({"holidays": [20261225]}, "holidays[0]", "not a date"),
        ({"holidays": "2026-12-25"}, "holidays", "list"),
        ({"name": ""}, "name", ""),
        (
            {"name": "Standard hours", "schedule": {"mon": [["09:00", "12:00"], ["10:00", "11:00"]]}},
            "name",
            "taken",
        ),
    ],
)
def test_bad_profiles_are_400_naming_the_field_and_nothing_is_written(
    cast: Cast, change: dict[str, Any], field: str, words: str
) -> None:
    _profile(name="STANDARD HOURS")
    before = list(BusinessHours.objects.values_list("pk", "name", "schedule", "holidays"))
    response = api_for(cast.alice).post(PROFILES, {**OFFICE, **change}, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"], body
    assert words in " ".join(body["fields"][field]) and body["detail"]
    assert list(BusinessHours.objects.values_list("pk", "name", "schedule", "holidays")) == before


def test_every_fault_is_named_at_once_and_an_update_writes_nothing(cast: Cast) -> None:
    profile = _profile()
    response = api_for(cast.alice).patch(
        f"{PROFILES}{profile.pk}/",
        {"name": "Renamed", "timezone": "Nowhere/Land", "schedule": {"fri": [["10:00", "09:00"]]}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"timezone", "schedule.fri[0]"}
    profile.refresh_from_db()
    assert profile.name == "London office" and profile.timezone == "Europe/London"


def test_filling_holidays_merges_a_countrys_public_holidays(cast: Cast) -> None:
    profile = _profile(holidays=["2026-08-03"])
    client = api_for(cast.alice)
    response = client.post(
        f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "gb", "years": "2026"}, format="json"
    )
    assert response.status_code == 200, response.content
    days = response.json()["holidays"]
    assert {"2026-01-01", "2026-12-25", "2026-12-28", "2026-08-03"} <= set(days)
    assert days == sorted(set(days)) and not any(day.startswith("2027") for day in days)
    # Again, with a range given as from/to: merged, no duplicates, stored as plain dates.
    again = client.post(
        f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "GB", "from": 2026, "to": 2027}, format="json"
    )
    assert again.status_code == 200, again.content
    stored = BusinessHours.objects.get(pk=profile.pk).holidays
    assert stored == again.json()["holidays"] == sorted(set(stored))
    assert "2027-12-27" in stored and stored.count("2026-12-25") == 1
    scotland = client.post(
        f"{PROFILES}{profile.pk}/fill-holidays/",
        {"country": "GB", "subdivision": "SCT", "years": "2026\u20132026"},
        format="json",
    )
    assert scotland.status_code == 200 and "2026-01-02" in scotland.json()["holidays"]  # 2 January
    entry = _audited(BusinessHours, profile.pk, AuditEntry.Action.UPDATE)
    assert entry is not None and entry.channel == "api"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": "XX", "years": "2026"}, "country"),
        ({"country": "", "years": "2026"}, "country"),
        ({"country": "GB", "subdivision": "NOPE", "years": "2026"}, "subdivision"),
        ({"country": "GB", "years": "next year"}, "years"),
        ({"country": "GB", "years": "2028-2026"}, "years"),
        ({"country": "GB", "years": "1850"}, "years"),
        ({"country": "GB", "years": "2026-2040"}, "years"),
        ({"country": "GB", "from": 2027, "to": 2026}, "years"),
        ({"country": "GB"}, "years"),
    ],
)
def test_bad_fills_are_400_naming_the_field(cast: Cast, body: dict[str, Any], field: str) -> None:
    profile = _profile()
    response = api_for(cast.alice).post(f"{PROFILES}{profile.pk}/fill-holidays/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]
    assert BusinessHours.objects.get(pk=profile.pk).holidays == OFFICE["holidays"]


def test_a_profile_in_use_is_not_deleted(cast: Cast, actor: None) -> None:
    client = api_for(cast.alice)
    by_policy = _profile(name="Used by Gold")
    _policy("Gold", business_hours=by_policy)
    refused = client.delete(f"{PROFILES}{by_policy.pk}/")
    assert refused.status_code == 409
    assert refused.json()["code"] == "in_use" and "'Gold'" in refused.json()["detail"]
    by_customer = _profile(name="Acme hours")
    customer_update(customer=cast.acme, changes=CustomerChanges(business_hours=by_customer))
    refused = client.delete(f"{PROFILES}{by_customer.pk}/")
    assert refused.status_code == 409 and "Acme" in refused.json()["detail"]
    assert BusinessHours.objects.filter(pk__in=[by_policy.pk, by_customer.pk]).count() == 2


# --- SLA policies -------------------------------------------------------------------------------


def test_admin_creates_reads_updates_and_deletes_a_policy(cast: Cast) -> None:
    client = api_for(cast.alice)
    hours = _profile()
    created = client.post(
        POLICIES, {"name": "Gold", "business_hours": hours.pk, "targets": TARGETS}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "Gold",
        "business_hours": hours.pk,
        "targets": TARGETS,
        "warning_percent": 80,
        "is_default": False,
    }
    url = f"{POLICIES}{body['id']}/"
    assert client.get(url).json() == body
    assert "Gold" in [row["name"] for row in client.get(POLICIES).json()["results"]]
    faster = {**TARGETS, "P1": {"first_response": 15, "resolution": 120}}
    changed = client.patch(
        url, {"targets": faster, "business_hours": None, "warning_percent": 75}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["targets"]["P1"] == {"first_response": 15, "resolution": 120}
    assert changed.json()["business_hours"] is None and changed.json()["warning_percent"] == 75
    put = client.put(url, {"name": "Gold 24x7", "targets": TARGETS}, format="json")
    assert put.status_code == 200 and put.json()["name"] == "Gold 24x7"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    entry = _audited(SlaPolicy, body["id"], AuditEntry.Action.DELETE)
    assert entry is not None and entry.actor == cast.alice and entry.channel == "api"


def _targets_with(priority: str, value: Any) -> dict[str, Any]:
    return {**TARGETS, priority: value}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"targets": {key: TARGETS[key] for key in ("P1", "P2", "P3")}}, "targets.P4"),
        ({"targets": {**TARGETS, "P5": {"first_response": 1, "resolution": 2}}}, "targets.P5"),
        (
            {"targets": _targets_with("P1", {"first_response": 0, "resolution": 240})},
            "targets.P1.first_response",
        ),
        ({"targets": _targets_with("P2", {"first_response": 60, "resolution": -5})}, "targets.P2.resolution"),
        (
            {"targets": _targets_with("P2", {"first_response": 1.5, "resolution": 60})},
            "targets.P2.first_response",
        ),
        (
            {"targets": _targets_with("P3", {"first_response": "60", "resolution": 600})},
            "targets.P3.first_response",
        ),
        (
            {"targets": _targets_with("P3", {"first_response": True, "resolution": 600})},
            "targets.P3.first_response",
        ),
        ({"targets": _targets_with("P3", {"first_response": 60})}, "targets.P3.resolution"),
        (
            {"targets": _targets_with("P4", {"first_response": 9999, "resolution": 600})},
            "targets.P4.first_response",
        ),
        (
            {"targets": _targets_with("P4", {"first_response": 1, "resolution": 10**7})},
            "targets.P4.resolution",
        ),
        ({"targets": _targets_with("P1", {"first_response": 1, "resolution": 2, "x": 3})}, "targets.P1.x"),
        ({"targets": _targets_with("P1", 60)}, "targets.P1"),
        ({"targets": [60, 240]}, "targets"),
        ({"warning_percent": 0}, "warning_percent"),
        ({"warning_percent": 100}, "warning_percent"),
        ({"warning_percent": "lots"}, "warning_percent"),
        ({"business_hours": 999999}, "business_hours"),
        ({"name": "standard"}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_bad_policies_are_400_naming_the_field_and_nothing_is_written(
    cast: Cast, change: dict[str, Any], field: str
) -> None:
    before = list(SlaPolicy.objects.values_list("pk", "name", "targets", "is_default"))
    response = api_for(cast.alice).post(
        POLICIES, {"name": "Gold", "targets": TARGETS, **change}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"], body
    assert list(SlaPolicy.objects.values_list("pk", "name", "targets", "is_default")) == before


def test_a_bad_create_that_asks_for_the_default_leaves_the_default_alone(cast: Cast) -> None:
    standard = _default()
    response = api_for(cast.alice).post(
        POLICIES, {"name": "Gold", "targets": {"P1": TARGETS["P1"]}, "is_default": True}, format="json"
    )
    assert response.status_code == 400
    assert _default() == standard


def test_the_default_moves_in_one_step_and_is_never_unset_or_deleted(cast: Cast, actor: None) -> None:
    client = api_for(cast.alice)
    standard = _default()
    gold = client.post(POLICIES, {"name": "Gold", "targets": TARGETS, "is_default": True}, format="json")
    assert gold.status_code == 201 and gold.json()["is_default"] is True
    assert list(SlaPolicy.objects.filter(is_default=True).values_list("name", flat=True)) == ["Gold"]
    assert client.get(f"{POLICIES}{standard.pk}/").json()["is_default"] is False
    # Unsetting the default is refused; the flag stays where it is.
    gold_url = f"{POLICIES}{gold.json()['id']}/"
    refused = client.patch(gold_url, {"is_default": False, "name": "Gold 2"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "default_required" and "is_default" in refused.json()["fields"]
    assert "make another policy the default first" in refused.json()["detail"]
    assert SlaPolicy.objects.get(pk=gold.json()["id"]).name == "Gold"  # nothing written
    # Deleting the default is refused.
    deleted = client.delete(gold_url)
    assert deleted.status_code == 409 and deleted.json()["code"] == "default_required"
    # Moving it back: PATCH is_default on another policy.
    back = client.patch(f"{POLICIES}{standard.pk}/", {"is_default": True}, format="json")
    assert back.status_code == 200 and back.json()["is_default"] is True
    assert list(SlaPolicy.objects.filter(is_default=True).values_list("pk", flat=True)) == [standard.pk]
    # Setting it again where it already is, or unsetting a non-default, changes nothing.
    assert client.patch(f"{POLICIES}{standard.pk}/", {"is_default": True}, format="json").status_code == 200
    assert client.patch(gold_url, {"is_default": False}, format="json").status_code == 200
    assert _default() == standard
    unset = _audited(SlaPolicy, standard.pk, AuditEntry.Action.UPDATE)
    assert unset is not None and "is_default" in (unset.changes or {})
    assert client.delete(gold_url).status_code == 204


def test_a_policy_in_use_is_not_deleted(cast: Cast, actor: None) -> None:
    client = api_for(cast.alice)
    customer_default = _policy("For Acme")
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=customer_default))
    refused = client.delete(f"{POLICIES}{customer_default.pk}/")
    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "policy_in_use" and "Acme" in refused.json()["detail"]

    on_ci = _policy("For a CI")
    with customer_schema(cast.acme):
        cmdb_services.ci_create(
            customer=cast.acme,
            by=None,
            new=cmdb_services.NewCi(name="db-01", type="server", sla_policy=on_ci),
        )
    refused = client.delete(f"{POLICIES}{on_ci.pk}/")
    assert refused.status_code == 409 and "configuration item of Acme" in refused.json()["detail"]

    on_user = _policy("Executive")
    globex_user = cast.profile(cast.globex_user)
    with customer_schema(cast.globex):
        customer_user_update(profile=globex_user, changes=CustomerUserChanges(sla_policy=on_user))
    refused = client.delete(f"{POLICIES}{on_user.pk}/")
    assert refused.status_code == 409 and "override of Globex" in refused.json()["detail"]

    on_ticket = _policy("Once used")
    open_ticket(cast.globex, cast.alice, sla_policy=on_ticket)
    refused = client.delete(f"{POLICIES}{on_ticket.pk}/")
    assert refused.status_code == 409 and "Globex" in refused.json()["detail"]

    assert (
        SlaPolicy.objects.filter(pk__in=[customer_default.pk, on_ci.pk, on_user.pk, on_ticket.pk]).count()
        == 4
    )
    unused = _policy("Unused")
    assert client.delete(f"{POLICIES}{unused.pk}/").status_code == 204


# --- who may do what ----------------------------------------------------------------------------


def test_agents_read_but_do_not_write(cast: Cast) -> None:
    profile, policy = _profile(), _policy()
    client = api_for(cast.bob)
    assert client.get(PROFILES).status_code == 200 and client.get(POLICIES).status_code == 200
    assert client.get(f"{PROFILES}{profile.pk}/").json()["name"] == "London office"
    assert client.get(f"{POLICIES}{policy.pk}/").json()["name"] == "Gold"
    writes = [
        client.post(PROFILES, {**OFFICE, "name": "Mine"}, format="json"),
        client.patch(f"{PROFILES}{profile.pk}/", {"name": "Mine"}, format="json"),
        client.delete(f"{PROFILES}{profile.pk}/"),
        client.post(
            f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "GB", "years": "2026"}, format="json"
        ),
        client.post(POLICIES, {"name": "Mine", "targets": TARGETS}, format="json"),
        client.patch(f"{POLICIES}{policy.pk}/", {"is_default": True}, format="json"),
        client.delete(f"{POLICIES}{policy.pk}/"),
    ]
    assert [response.status_code for response in writes] == [403] * len(writes)
    assert writes[0].json()["code"] == "permission_denied"
    assert BusinessHours.objects.get(pk=profile.pk).holidays == OFFICE["holidays"]
    assert not SlaPolicy.objects.get(pk=policy.pk).is_default


@pytest.mark.parametrize("who", ["acme_admin", "acme_user", "acme_it", "globex_admin"])
def test_customer_users_find_nothing_here(cast: Cast, who: str) -> None:
    profile, policy = _profile(), _policy()
    client = api_for(getattr(cast, who))
    calls = [
        client.get(PROFILES),
        client.post(PROFILES, {**OFFICE, "name": "Mine"}, format="json"),
        client.get(f"{PROFILES}{profile.pk}/"),
        client.patch(f"{PROFILES}{profile.pk}/", {"name": "Mine"}, format="json"),
        client.delete(f"{PROFILES}{profile.pk}/"),
        client.post(
            f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "GB", "years": "2026"}, format="json"
        ),
        client.get(POLICIES),
        client.post(POLICIES, {"name": "Mine", "targets": TARGETS}, format="json"),
        client.get(f"{POLICIES}{policy.pk}/"),
        client.put(f"{POLICIES}{policy.pk}/", {"name": "Mine", "targets": TARGETS}, format="json"),
        client.delete(f"{POLICIES}{policy.pk}/"),
    ]
    assert [response.status_code for response in calls] == [404] * len(calls)
    assert calls[0].json()["code"] == "not_found"
    assert (
        BusinessHours.objects.filter(name="Mine").count()
        == SlaPolicy.objects.filter(name="Mine").count()
        == 0
    )


def test_signed_out_callers_are_401(cast: Cast) -> None:
    assert api_for(None).get(PROFILES).status_code == 401
    assert api_for(None).post(POLICIES, {"name": "X", "targets": TARGETS}, format="json").status_code == 401


# --- cost and schema ----------------------------------------------------------------------------


def _queries(client: Any, url: str) -> int:
    client.get(url)  # warm: token, content types
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200 and response.json()["count"] >= 3
    return len(captured)


@pytest.mark.parametrize("url", [PROFILES, POLICIES])
def test_the_list_query_count_does_not_grow_with_the_rows(cast: Cast, url: str) -> None:
    client = api_for(cast.bob)

    def add(start: int, n: int) -> None:
        for index in range(start, start + n):
            hours = _profile(name=f"Profile {index}")
            _policy(f"Policy {index}", business_hours=hours)

    add(0, 3)
    few = _queries(client, url)
    add(3, 20)
    assert _queries(client, url) == few


def test_the_schema_describes_the_endpoints(cast: Cast, tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "serviflow.urls_console",
        "--file",
        str(target),
    )
    schema = target.read_text()
    for path in (
        "/api/v1/business-hours/",
        "/api/v1/business-hours/{id}/",
        "/api/v1/business-hours/{id}/fill-holidays/",
        "/api/v1/sla-policies/",
        "/api/v1/sla-policies/{id}/",
    ):
        assert f"{path}:" in schema
