"""The new-customer wizard: name and slug, time zone and business hours (with public holidays),
the default SLA (with the simulator's answer for a P2 opened now), the first users, and the
summary whose button provisions everything in one transaction. Nothing is written before it,
and a refusal there leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from accounts.models import User
from audit.context import job_context
from people.models import CustomerUser
from people.onboarding import FirstUser, NewPolicy, NewProfile, Onboarding, customer_onboard
from people.services import CustomerUserFields
from sla.models import PRIORITIES, STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import PASSWORD, Cast
from tests.support.clients import console, portal

WEEK = {f"new-{day}": "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "new-sat": "",
    "new-sun": "",
}


def customer_step(**kw: str) -> dict[str, str]:
    return {"name": "Initrode", "slug": "initrode", "email_domains": "initrode.com"} | kw


def hours_step(**kw: str) -> dict[str, str]:
    return {
        "timezone": "Europe/Paris",
        "choice": "new",
        "profile": "",
        "new-name": "Paris office",
        **WEEK,
        "new-holidays": "",
        "fill-country": "FR",
        "fill-subdivision": "",
        "fill-years": "2026-2027",
    } | kw


def sla_step(**kw: str) -> dict[str, str]:
    targets = {
        f"new-{priority}_{clock}": str(minutes)
        for priority in PRIORITIES
        for clock, minutes in STANDARD_TARGETS[priority].items()
    }
    return {
        "choice": "new",
        "policy": "",
        "new-name": "Initrode Gold",
        "new-warning_percent": "80",
        **targets,
    } | kw


def users_step(*rows: dict[str, str]) -> dict[str, str]:
    data = {
        "users-TOTAL_FORMS": "5",
        "users-INITIAL_FORMS": "0",
        "users-MIN_NUM_FORMS": "0",
        "users-MAX_NUM_FORMS": "50",
    }
    for index in range(5):
        row = rows[index] if index < len(rows) else {}
        for field in ("email", "name", "password"):
            data[f"users-{index}-{field}"] = row.get(field, "")
        data[f"users-{index}-role"] = row.get("role", "user")
    return data


FIRST_USERS = (
    {"email": "boss@initrode.test", "name": "Bill Lumbergh", "role": "admin", "password": PASSWORD},
    {"email": "cfo@initrode.test", "name": "Dana Ruiz"},
)


def run_steps(client: Client, **overrides: dict[str, str]) -> None:
    for path, data in (
        ("/onboarding/", customer_step(**overrides.get("customer", {}))),
        ("/onboarding/hours/", hours_step(**overrides.get("hours", {}))),
        ("/onboarding/sla/", sla_step(**overrides.get("sla", {}))),
        ("/onboarding/users/", users_step(*FIRST_USERS)),
    ):
        response = client.post(path, data)
        assert response.status_code == 302, (path, response.content.decode()[:3000])


def _nothing_written() -> None:
    assert not Customer.objects.filter(slug="initrode").exists()
    assert not BusinessHours.objects.filter(name="Paris office").exists()
    assert not SlaPolicy.objects.filter(name="Initrode Gold").exists()
    assert not User.objects.filter(email__in=[row["email"] for row in FIRST_USERS]).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'c_initrode'")
        assert cursor.fetchone() is None


def test_the_wizard_provisions_everything_at_the_last_step_only(cast: Cast) -> None:
    client = console(cast.alice)
    run_steps(client)
    _nothing_written()  # four steps in, nothing exists yet
    summary = client.get("/onboarding/summary/").content.decode()
    assert "Paris office" in summary and "Initrode Gold" in summary and "A P2 ticket opened now" in summary
    response = client.post("/onboarding/summary/")
    assert response.status_code == 302 and response["Location"] == "/customers/initrode/"
    customer = Customer.objects.select_related("default_sla", "business_hours").get(slug="initrode")
    assert customer.timezone == "Europe/Paris"
    assert customer.business_hours is not None and customer.business_hours.name == "Paris office"
    assert "2026-07-14" in customer.business_hours.holidays  # France's national day, filled
    assert customer.default_sla is not None and customer.default_sla.business_hours == customer.business_hours
    assert list(customer.email_domains.values_list("domain", flat=True)) == ["initrode.com"]
    with customer_schema(customer):
        people = {p.user.email: p.user for p in CustomerUser.objects.select_related("user")}
    assert people["boss@initrode.test"].customer_role == "admin"
    assert people["boss@initrode.test"].check_password(PASSWORD)
    assert not people["cfo@initrode.test"].has_usable_password()  # invited
    assert "customer_wizard" not in client.session
    assert "initrode" in client.get("/").content.decode()  # the queue's customer filter


def test_going_back_keeps_what_was_entered(cast: Cast) -> None:
    client = console(cast.alice)
    run_steps(client)
    assert 'value="Initrode"' in client.get("/onboarding/").content.decode()
    hours = client.get("/onboarding/hours/").content.decode()
    assert 'value="Paris office"' in hours and 'value="FR"' in hours
    assert 'value="Initrode Gold"' in client.get("/onboarding/sla/").content.decode()
    users = client.get("/onboarding/users/").content.decode()
    assert 'value="cfo@initrode.test"' in users and PASSWORD not in users  # a password is never shown
    assert PASSWORD not in json.dumps(client.session["customer_wizard"])  # nor kept as typed
    # Posting the users again without the password keeps it.
    client.post("/onboarding/users/", users_step({**FIRST_USERS[0], "password": ""}, FIRST_USERS[1]))
    assert "password set" in client.get("/onboarding/summary/").content.decode()


def test_steps_cannot_be_skipped(cast: Cast) -> None:
    client = console(cast.alice)
    assert client.get("/onboarding/sla/")["Location"] == "/onboarding/"
    assert client.post("/onboarding/summary/")["Location"] == "/onboarding/"
    _nothing_written()


def test_the_sla_step_shows_a_p2_opened_now_without_going_on(cast: Cast) -> None:
    client = console(cast.alice)
    client.post("/onboarding/", customer_step())
    client.post("/onboarding/hours/", hours_step())
    response = client.post("/onboarding/sla/", sla_step(preview="1"))
    html = response.content.decode()
    assert (
        response.status_code == 200 and "A P2 ticket opened now" in html and 'data-due="resolution"' in html
    )
    assert "sla" not in client.session["customer_wizard"]
    assert not SlaPolicy.objects.filter(name="Initrode Gold").exists()


@pytest.mark.parametrize(
    ("path", "setup", "data", "message"),
    [
        ("/onboarding/", [], customer_step(slug="acme"), "already exists"),
        ("/onboarding/", [], customer_step(slug="www"), "reserved"),
        ("/onboarding/hours/", ["customer"], hours_step(**{"new-mon": "17:00-09:00"}), "Monday"),
        ("/onboarding/hours/", ["customer"], hours_step(timezone="Mars/Olympus"), "timezone"),
        ("/onboarding/hours/", ["customer"], hours_step(**{"fill-country": "XX"}), "not a country code"),
        (
            "/onboarding/sla/",
            ["customer", "hours"],
            sla_step(**{"new-P1_first_response": "500"}),
            "cannot be due after",
        ),
        (
            "/onboarding/users/",
            ["customer", "hours", "sla"],
            users_step({"email": "user@acme.test", "name": "X"}),
            "already registered",
        ),
    ],
)
def test_bad_input_at_a_step_is_refused_there(
    cast: Cast, path: str, setup: list[str], data: dict[str, str], message: str
) -> None:
    client = console(cast.alice)
    steps: dict[str, Any] = {
        "customer": ("/onboarding/", customer_step()),
        "hours": ("/onboarding/hours/", hours_step()),
        "sla": ("/onboarding/sla/", sla_step()),
    }
    for step in setup:
        assert client.post(*steps[step]).status_code == 302
    response = client.post(path, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    _nothing_written()


def test_a_failed_last_step_writes_nothing_and_says_why(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    run_steps(client)
    # Meanwhile someone registers one of the first users' addresses elsewhere.
    with customer_schema(cast.globex):
        from people.services import customer_user_create

        customer_user_create(
            customer=cast.globex,
            fields=CustomerUserFields(email="cfo@initrode.test", name="Dana"),
            password=PASSWORD,
        )
    response = client.post("/onboarding/summary/", follow=True)
    html = response.content.decode()
    assert "First users: this step needs another look." in html and "already registered" in html
    assert not Customer.objects.filter(slug="initrode").exists()
    assert not BusinessHours.objects.filter(name="Paris office").exists()
    assert not SlaPolicy.objects.filter(name="Initrode Gold").exists()


def test_one_transaction_a_refusal_inside_it_leaves_nothing(cast: Cast) -> None:
    """The provisioning itself: the second user is refused after the profile, the policy, the
    customer's schema and the first user were made; all of them go."""
    same = CustomerUserFields(email="twice@initrode.test", name="Twice")
    onboarding = Onboarding(
        name="Initrode",
        slug="initrode",
        timezone="Europe/Paris",
        business_hours=NewProfile(
            name="Paris office", timezone="Europe/Paris", schedule={"mon": [["09:00", "17:00"]]}
        ),
        default_sla=NewPolicy(name="Initrode Gold", targets=STANDARD_TARGETS),
        users=(FirstUser(fields=same, password=PASSWORD), FirstUser(fields=same)),
    )
    with job_context("tests"), pytest.raises(ValidationError, match="already registered") as refused:
        customer_onboard(onboarding=onboarding, by=cast.alice)
    assert "users[2].email" in str(refused.value)
    _nothing_written()
    assert not User.objects.filter(email="twice@initrode.test").exists()


def test_only_provider_admins_run_the_wizard(cast: Cast) -> None:
    assert console(cast.bob).get("/onboarding/").status_code == 403
    assert console(cast.bob).post("/onboarding/", customer_step()).status_code == 403
    assert console(cast.acme_it).get("/onboarding/").status_code == 404
    assert console(cast.alice).post("/onboarding/cancel/").status_code == 302


def test_customer_people_have_no_wizard(cast: Cast) -> None:
    refused = console(cast.acme_admin).get("/onboarding/")
    assert refused.status_code in (302, 404)
    assert portal(cast.acme_admin).get("/onboarding/").status_code == 404  # not a portal page


def _up_to_users(client: Client) -> None:
    for path, data in (
        ("/onboarding/", customer_step()),
        ("/onboarding/hours/", hours_step()),
        ("/onboarding/sla/", sla_step()),
    ):
        assert client.post(path, data).status_code == 302


def _file(text: str, encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile("users.csv", text.encode(encoding), content_type="text/csv")


def test_first_users_can_be_read_from_a_csv_file(cast: Cast) -> None:
    client = console(cast.alice)
    _up_to_users(client)
    typed = users_step(FIRST_USERS[0])
    csv_text = "Email;Name;Role\r\nana@initrode.test;Ana Ösing;admin\r\nbo@initrode.test;Bo;\r\n"
    response = client.post(
        "/onboarding/users/", typed | {"read_csv": "1", "users_csv": _file(csv_text, "cp1252")}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "2 users read from the file" in html
    assert 'value="boss@initrode.test"' in html  # the typed row keeps its place
    assert 'value="ana@initrode.test"' in html and 'value="Ana Ösing"' in html
    assert "users" not in client.session["customer_wizard"]  # nothing kept before Next
    _nothing_written()


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("email,name\n=cmd|' /C calc'!A0,Eve\n", "spreadsheet formula"),
        ("customer,email\nacme,x@initrode.test\n", "this file is for"),
        ("email,timezone\nx@initrode.test,Europe/Paris\n", "set after the customer exists"),
        ("email,role\nx@initrode.test,agent\n", "use user or admin"),
        ("name\nNo Email\n", "Missing required column email"),
        ("email,shoe_size\nx@initrode.test,44\n", "Unknown column shoe_size"),
        ("email\n" + "".join(f"u{i}@initrode.test\n" for i in range(60)), "At most 50 first users"),
    ],
)
def test_a_bad_first_users_file_is_refused_naming_why(cast: Cast, csv_text: str, message: str) -> None:
    client = console(cast.alice)
    _up_to_users(client)
    response = client.post(
        "/onboarding/users/", users_step() | {"read_csv": "1", "users_csv": _file(csv_text)}
    )
    assert response.status_code == 400 and message in response.content.decode()
    _nothing_written()
