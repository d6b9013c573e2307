"""The licence report: unique full-time agents however many customers they work for, the
occasional agents' passes, and the advice to convert."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from accounts.models import AgentMembership
from accounts.services import AgentFields, agent_create, person_deactivate
from billing.models import AgentActivityDay
from billing.services import day_pass_consume
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.billing.conftest import occasional
from tests.conftest import Cast, api_for
from tests.support.clients import console

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("actor")]
MONTH = "2027-02"  # a month no other test uses passes in


def report(cast: Cast, month: str = MONTH) -> dict[str, Any]:
    response = api_for(cast.alice).get("/api/v1/billing/licences/", {"month": month})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def test_harry_ron_and_hermione_are_three_licences_not_twenty(cast: Cast) -> None:
    before = report(cast)["full_time_agents"]
    customers = [customer_provision(name=f"Client {n}", slug=f"client-{n}") for n in range(1, 11)]

    def agent(name: str, members: list[Customer]) -> None:
        agent_create(
            fields=AgentFields(email=f"{name}@msp.test", name=name.title(), customers=tuple(members)),
            password=None,
        )

    agent("harry", customers)
    agent("ron", customers[:5])
    agent("hermione", customers[5:])
    assert AgentMembership.objects.filter(customer__in=customers).count() == 20
    after = report(cast)
    assert after["full_time_agents"] - before == 3
    assert {line["email"] for line in after["by_agent"]} >= {
        "harry@msp.test",
        "ron@msp.test",
        "hermione@msp.test",
    }


@override_settings(DAY_PASS_PRICE=Decimal("6.00"), FULL_TIME_LICENCE_PRICE=Decimal("89.00"))
def test_passes_per_agent_and_day_and_the_advice_to_convert(cast: Cast) -> None:
    busy = occasional("Busy", "UTC")
    rare = occasional("Rare", "UTC")
    for n in range(16):  # 16 x 6.00 = 96.00 > 89.00
        with time_machine.travel(datetime(2027, 2, 1 + n, 9, 0, tzinfo=UTC), tick=False):
            day_pass_consume(user=busy, channel="api")
    with time_machine.travel(datetime(2027, 2, 3, 9, 0, tzinfo=UTC), tick=False):
        day_pass_consume(user=rare, channel="console")
    idle = agent_create(fields=AgentFields(email="idle@msp.test", name="Idle"), password=None)
    AgentActivityDay.objects.bulk_create(
        [AgentActivityDay(agent=idle, local_date=date(2027, 2, day)) for day in (2, 9, 16)]
    )
    with time_machine.travel(datetime(2027, 3, 2, 9, 0, tzinfo=UTC), tick=False):  # February is over
        body = report(cast)
    lines = {line["email"]: line for line in body["by_agent"]}
    assert lines[busy.email]["passes"] == 16 and lines[busy.email]["passes_cost"] == "96.00"
    assert lines[rare.email]["pass_days"] == ["2027-02-03"]
    assert lines["idle@msp.test"]["active_days"] == 3
    assert body["day_passes_consumed"] == 17
    assert body["occasional_agents"] == 2
    by_day = {day["date"]: day["passes"] for day in body["by_day"]}
    assert len(by_day) == 28 and by_day["2027-02-03"] == 2 and by_day["2027-02-20"] == 0
    advice = {(item["email"], item["action"]) for item in body["recommendations"]}
    assert (busy.email, "convert_to_full_time") in advice
    assert (rare.email, "convert_to_full_time") not in advice
    assert ("idle@msp.test", "convert_to_occasional") in advice
    assert not any(item["email"] == cast.alice.email for item in body["recommendations"])  # admins stay
    with time_machine.travel(datetime(2027, 2, 20, 9, 0, tzinfo=UTC), tick=False):  # month in progress
        early = report(cast)
    assert ("idle@msp.test", "convert_to_occasional") not in {
        (item["email"], item["action"]) for item in early["recommendations"]
    }


def test_full_time_agents_leave_one_activity_day_per_local_date(cast: Cast) -> None:
    api = api_for(cast.bob)
    start = datetime(2027, 2, 10, 22, 0, tzinfo=UTC)
    for minutes in (0, 30, 90, 150):  # 22:00, 22:30, 23:30 UTC on the 10th, 00:30 on the 11th
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert api.get("/api/v1/me/").status_code == 200
    days = sorted(AgentActivityDay.objects.filter(agent=cast.bob).values_list("local_date", flat=True))
    assert days == [date(2027, 2, 10), date(2027, 2, 11)]
    assert not AgentActivityDay.objects.filter(agent=cast.charlie).exists()


def test_a_bad_month_is_400_naming_it(cast: Cast) -> None:
    for month in ("2027-13", "February", "2027"):
        response = api_for(cast.alice).get("/api/v1/billing/licences/", {"month": month})
        assert response.status_code == 400 and "month" in response.json()["fields"], month


def test_customer_agents_were_missing_from_the_licence_report(cast: Cast) -> None:
    """Finding 5: customers' own agents are agents (day-passes.md), so each is one full-time
    licence, counted once per person, listed with their customer; never advised to convert.
    Plain customer users and admins are no licence; a deactivated agent neither."""
    before = report(cast)
    with customer_schema(cast.globex):
        customer_user_create(
            customer=cast.globex,
            fields=CustomerUserFields(email="desk@globex.test", name="Desk", role="agent"),
            password=None,
        )
        customer_user_create(
            customer=cast.globex,
            fields=CustomerUserFields(email="boss@globex.test", name="Boss", role="admin"),
            password=None,
        )
    gone = agent_create(fields=AgentFields(email="gone@msp.test", name="Gone"), password=None)
    person_deactivate(user=gone)
    body = report(cast)
    assert body["full_time_agents"] == before["full_time_agents"] + 1
    lines = [line for line in body["by_agent"] if line["email"] in ("it@acme.test", "desk@globex.test")]
    assert [
        (line["email"], line["licence"], line["customer"], line["passes"], line["is_admin"]) for line in lines
    ] == [
        ("desk@globex.test", "full_time", "globex", 0, False),
        ("it@acme.test", "full_time", "acme", 0, False),
    ]
    emails = [line["email"] for line in body["by_agent"]]
    assert len(emails) == len(set(emails))  # once per person
    assert not {"boss@globex.test", "admin@acme.test", "user@acme.test", "gone@msp.test"} & set(emails)
    assert all(line["customer"] is None for line in body["by_agent"] if line["email"].endswith("@msp.test"))
    assert not any(item["email"] in ("it@acme.test", "desk@globex.test") for item in body["recommendations"])
    # The console's Licences page lists them the same way.
    page = console(cast.alice).get("/billing/licences/", {"month": MONTH}).content.decode()
    assert 'data-agent="it@acme.test"' in page and 'data-customer-agent="acme"' in page
    assert f'<dd data-figure="full-time">{body["full_time_agents"]} ' in page
