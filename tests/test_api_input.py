"""How every API endpoint reads its input (serviflow.api): query parameters and JSON bodies are
taken as the OpenAPI schema types them, anything else is a 400 naming the field, never a guess
and never a 500; and every error, an unknown URL or an oversized body included, is the envelope."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.conftest import Cast, api_for

TICKETS = "/api/v1/customers/acme/tickets/"
CIS = "/api/v1/customers/acme/cis/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=null", "page_size"),
        ("page_size=%EF%BC%95", "page_size"),  # a fullwidth 5: int() would take it
        ("page_size=5.0", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=last", "page"),
    ],
)
def test_paging_parameters_are_checked_not_clamped(cast: Cast, query: str, field: str) -> None:
    response = api_for(cast.alice).get(f"/api/v1/customers/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


def test_paging_within_bounds_and_past_the_end(cast: Cast) -> None:
    client = api_for(cast.alice)
    page = client.get("/api/v1/customers/?page_size=1&page=1")
    assert page.status_code == 200 and len(page.json()["results"]) == 1 and page.json()["next"]
    assert client.get("/api/v1/customers/?page=9999").json()["code"] == "not_found"


def test_an_empty_query_parameter_is_one_not_given(cast: Cast) -> None:
    client = api_for(cast.bob)
    for url in (
        f"{TICKETS}?ordering=&assignee=&page=&page_size=",
        f"{CIS}?parent=&owner=",
        "/api/v1/tickets/?cursor=",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/notifications/?unread=yes",
        "/api/v1/tickets/?count=1",
        "/api/v1/tickets/?cursor=not%20a%20cursor",
    ],
)
def test_booleans_and_cursors_are_what_the_schema_says(cast: Cast, url: str) -> None:
    assert api_for(cast.bob).get(url).status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 5, "slug": "five"}, "name"),  # DRF would store "5"
        ({"name": "Five", "slug": "five", "is_active": "yes"}, "is_active"),  # ... and True
        ({"name": "Five", "slug": "five", "default_sla": "1"}, "default_sla"),  # ... and policy 1
    ],
)
def test_json_values_have_their_schema_types(cast: Cast, payload: dict[str, object], field: str) -> None:
    response = api_for(cast.alice).post("/api/v1/customers/", payload, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_forms_are_still_read_as_text(cast: Cast) -> None:
    response = api_for(cast.alice).post(
        "/api/v1/day-passes/purchases/", {"quantity": "3"}, format="multipart"
    )
    assert response.status_code == 201, response.content


def test_references_take_an_id_as_a_json_number(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user)
    response = api_for(cast.bob).post(
        TICKETS, {"subject": "By number", "requester": profile.pk, "assignee": cast.bob.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["requester"] == profile.pk and response.json()["assignee"] == cast.bob.pk


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here/", 404, "not_found"),
        ("post", "/api/v1/nothing-here/", 404, "not_found"),
        ("get", "/api/v1/me", 404, "not_found"),  # named: the URL ends with a slash
        ("get", "/api/v1/business-hours/abc/", 404, "not_found"),
        ("delete", f"{TICKETS}1/", 405, "method_not_allowed"),
        ("put", f"{CIS}1/", 405, "method_not_allowed"),
        ("post", "/api/v1/docs/", 405, "method_not_allowed"),  # an HTML page's error
        ("post", "/api/v1/schema/", 405, "method_not_allowed"),  # a YAML document's error
        ("get", "/api/v1/schema/?format=xml", 404, "not_found"),
    ],
)
def test_every_error_is_the_envelope_also_with_debug(
    cast: Cast, method: str, path: str, status: int, code: str
) -> None:
    with override_settings(DEBUG=True):  # Django's HTML pages would answer unknown URLs
        response = getattr(api_for(cast.alice), method)(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code and response.json()["detail"]
    if status == 405:  # not offered: the schema has no such operation either
        assert method.upper() not in response["Allow"]


def test_a_missing_slash_is_named(cast: Cast) -> None:
    assert "/api/v1/me/" in api_for(cast.alice).get("/api/v1/me").json()["detail"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_oversized_body_is_the_envelope(cast: Cast) -> None:
    client = api_for(cast.alice)
    json_body = client.post("/api/v1/customers/", {"name": "x" * 2000, "slug": "big"}, format="json")
    form_body = client.post("/api/v1/customers/", {"name": "x" * 2000, "slug": "big"}, format="multipart")
    for response in (json_body, form_body):
        assert response.status_code == 400
        assert response.json()["code"] == "bad_request" and "too large" in response.json()["detail"]


# --- found by the contract run ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/tickets/?customer=ac%00me",  # was a 500: PostgreSQL refuses NUL
        "/api/v1/customers/acme/cis/?search=a%00",
        "/api/v1/customers/acme/tickets/?requester=a%00@acme.test",
    ],
)
def test_nul_characters_in_query_parameters_are_400(cast: Cast, url: str) -> None:
    response = api_for(cast.bob).get(url)
    assert response.status_code == 400, response.content
    assert "NUL" in " ".join(next(iter(response.json()["fields"].values())))


def test_nul_characters_in_free_form_json_are_400(cast: Cast) -> None:
    response = api_for(cast.bob).post(
        CIS, {"name": "nul-1", "type": "server", "attributes": {"os": "Debian\x00"}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["attributes"]


def test_a_queue_filter_by_something_that_is_no_slug_is_400(cast: Cast) -> None:
    response = api_for(cast.bob).get("/api/v1/tickets/?customer=Acme Corp")
    assert response.status_code == 400 and "customer" in response.json()["fields"]


def test_a_simulation_spans_at_most_ten_years(cast: Cast) -> None:
    body = {
        "priority": "P1",
        "created_at": "2026-11-23T09:00:00Z",
        "targets": {"P1": {"first_response": 60, "resolution": 240}},
        "events": [{"at": "3902-10-30T00:00:00Z", "status": "closed"}],  # took seconds of CPU
    }
    response = api_for(cast.alice).post("/api/v1/sla/simulate/", body, format="json")
    assert response.status_code == 400 and "events" in response.json()["fields"]


@pytest.mark.parametrize("month", ["2026-1", " 2026-01", "+2026-01", "0000-01", "2026-13"])
def test_a_month_is_written_yyyy_mm(cast: Cast, month: str) -> None:
    response = api_for(cast.alice).get("/api/v1/billing/licences/", {"month": month})
    assert response.status_code == 400 and "month" in response.json()["fields"]


def test_a_page_number_beyond_any_page_is_refused(cast: Cast) -> None:
    response = api_for(cast.alice).get("/api/v1/customers/?page=714459134307302973783408640")
    assert response.status_code == 400 and "at most" in response.json()["fields"]["page"][0]
    response = api_for(cast.alice).get("/api/v1/customers/?page=99999")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_an_inline_profile_has_a_list_of_holidays(cast: Cast) -> None:
    body = {
        "priority": "P1",
        "created_at": "2026-11-23T09:00:00Z",
        "targets": {"P1": {"first_response": 60, "resolution": 240}},
        "business_hours": {
            "timezone": "Europe/London",
            "schedule": {"mon": [["09:00", "17:00"]]},
            "holidays": None,
        },
    }
    response = api_for(cast.alice).post("/api/v1/sla/simulate/", body, format="json")
    assert response.status_code == 400 and "business_hours.holidays" in response.json()["fields"]


def test_a_method_no_endpoint_has_is_405_for_anyone(cast: Cast) -> None:
    """Before the check of who may see the endpoint (customer users get 404 for the provider's)."""
    response = api_for(cast.acme_user).generic("TRACE", "/api/v1/sla-policies/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert api_for(cast.acme_user).get("/api/v1/sla-policies/").status_code == 404


def test_the_consumption_log_filter_is_named_from_in_the_schema_too(cast: Cast) -> None:
    # found by the long contract run: the schema said from_ (the Python name) and the server read from
    schema = api_for(cast.alice).get("/api/v1/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/day-passes/consumptions/"]["get"]["parameters"]
    names = {parameter["name"] for parameter in parameters}
    assert {"from", "to"} <= names and "from_" not in names
    refused = api_for(cast.alice).get("/api/v1/day-passes/consumptions/?from=2026-13-01")
    assert refused.status_code == 400 and "from" in refused.json()["fields"]
