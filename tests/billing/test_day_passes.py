"""Day passes as day-passes.md says: the worked example row by row, the time-zone rule, the
empty pool, the ledger's guarantees and the API around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import override_settings

from accounts.services import AgentChanges, agent_update
from audit.context import job_context
from audit.models import AuditEntry
from billing.models import DayPassConsumption, DayPassExpiry, DayPassPurchase
from billing.services import (
    DayPassRequired,
    active_until,
    day_pass_consume,
    day_passes_buy,
    day_passes_expire,
    ledger_balance,
    pool,
)
from tenants.schema import customer_schema
from tests.billing.conftest import occasional
from tests.conftest import POOL, Cast, api_for
from tests.support.clients import console
from tickets import workflows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("actor")]


def la(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Los Angeles in November 2026 (UTC-8), as a UTC instant."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) + timedelta(hours=8)


def buy(cast: Cast, quantity: int) -> DayPassPurchase:
    with job_context("tests.pool"):
        return day_passes_buy(by=cast.alice, quantity=quantity)


@pytest.mark.empty_pool
def test_the_worked_example_of_day_passes_md(cast: Cast) -> None:
    buy(cast, 10)  # the pool holds 10
    ron = occasional("Ron", "America/Los_Angeles", customers=(cast.acme,))
    with customer_schema(cast.acme), job_context("tests"):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="Printer jam")
        )
    browser = console(ron, proceed=False)

    with time_machine.travel(la(21, 8, 0), tick=False):  # Sat 08:00: opens the console
        response = browser.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/day-pass/")
        page = browser.get(response["Location"])
        assert page.status_code == 200 and "Proceed" in page.content.decode()
        assert pool().balance == 10  # nothing consumed before Proceed

    with time_machine.travel(la(21, 8, 1), tick=False):  # 08:01: clicks Proceed
        assert browser.post("/day-pass/", {"next": "/"}).status_code == 302
        assert pool().balance == 9
        used = DayPassConsumption.objects.get(agent=ron)
        assert used.valid_until == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # 00:00 PST
        assert (used.local_date.isoformat(), used.channel, used.timezone) == (
            "2026-11-21",
            "console",
            "America/Los_Angeles",
        )

    with time_machine.travel(la(21, 23, 59), tick=False):  # 23:59: opens a ticket, no charge
        assert browser.get(f"/customers/acme/tickets/{ticket.pk}/").status_code == 200
        assert pool().balance == 9

    with time_machine.travel(la(22, 0, 1), tick=False):  # Sun 00:01: the Proceed page again
        response = browser.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/day-pass/")
        assert pool().balance == 9

    api = api_for(ron)
    with time_machine.travel(la(22, 10, 0), tick=False):  # 10:00: a script, 20 calls
        responses = [api.get("/api/v1/customers/acme/tickets/") for _ in range(20)]
        assert [r.status_code for r in responses] == [200] * 20
        assert [r.get("X-Day-Pass") for r in responses] == ["consumed"] + [None] * 19
        assert pool().balance == 8  # (20 at once: tests/billing/test_concurrency.py)
        assert DayPassConsumption.objects.get(agent=ron, local_date="2026-11-22").channel == "api"

    # Monday, the pool empty (eight colleagues used the rest)
    with time_machine.travel(la(23, 9, 0), tick=False):
        for n in range(8):
            day_pass_consume(user=occasional(f"Colleague{n}", "UTC"), channel="api")
        assert pool().balance == 0
        refused = api.get("/api/v1/customers/acme/tickets/")
        assert refused.status_code == 402
        assert refused.json()["code"] == "day_pass_required"
        assert "No day passes are left" in refused.json()["detail"]
        assert pool().balance == 0
        assert not DayPassConsumption.objects.filter(agent=ron, local_date="2026-11-23").exists()
    assert ledger_balance() == pool().balance == 0


@pytest.mark.empty_pool
def test_an_empty_pool_refuses_on_the_api_and_the_console_and_writes_nothing(cast: Cast) -> None:
    before = (DayPassConsumption.objects.count(), AuditEntry.objects.count())
    response = api_for(cast.charlie).get("/api/v1/me/")
    assert response.status_code == 402
    body = response.json()
    assert body["code"] == "day_pass_required"
    assert "alice" in body["detail"]  # whom to ask: the provider admins
    browser = console(cast.charlie, proceed=False)
    assert browser.get("/").status_code == 302
    page = browser.post("/day-pass/", {"next": "/"})
    assert page.status_code == 402
    text = page.content.decode()
    assert "No day passes are left" in text and "Nothing was consumed" in text and 'id="proceed"' not in text
    assert browser.get("/").status_code == 302  # still no access
    # The token's bookkeeping aside: its use touched it, and an occasional agent's use is on record.
    after_tokens = (
        AuditEntry.objects.exclude(content_type__model="apitoken")
        .exclude(action=AuditEntry.Action.ACCESS, additional_data__event="token used")
        .count()
    )
    assert DayPassConsumption.objects.count() == before[0]
    assert after_tokens <= before[1]
    assert pool().balance == 0


def test_a_pass_lasts_until_midnight_in_the_zone_it_was_used_in(cast: Cast) -> None:
    ron = occasional("Ron", "America/Los_Angeles")
    with time_machine.travel(la(21, 8, 1), tick=False):
        used = day_pass_consume(user=ron, channel="console")
    with job_context("tests"):
        agent_update(agent=ron, changes=AgentChanges(timezone="Asia/Tokyo"))  # 01:01 on the 22nd there
    ron.refresh_from_db()
    with time_machine.travel(datetime(2026, 11, 22, 7, 59, tzinfo=UTC), tick=False):
        assert (
            active_until(ron, datetime(2026, 11, 22, 7, 59, tzinfo=UTC)) == used.valid_until
        )  # not shortened
        again = day_pass_consume(user=ron, channel="api")
        assert not again.consumed
    at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # LA midnight: over, though Tokyo's day goes on
    assert active_until(ron, at) is None  # not extended either
    with time_machine.travel(at, tick=False):
        tokyo = day_pass_consume(user=ron, channel="api")
    assert tokyo.consumed and tokyo.consumption is not None
    assert tokyo.consumption.local_date.isoformat() == "2026-11-22"
    assert tokyo.valid_until == datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # midnight in Tokyo


def test_moving_west_does_not_give_a_second_pass_for_the_same_date(cast: Cast) -> None:
    agent = occasional("Kenji", "Asia/Tokyo")
    with time_machine.travel(datetime(2026, 11, 22, 1, 0, tzinfo=UTC), tick=False):  # 10:00 Tokyo
        day_pass_consume(user=agent, channel="console")
    with job_context("tests"):
        agent_update(agent=agent, changes=AgentChanges(timezone="America/Los_Angeles"))
    agent.refresh_from_db()
    balance = pool().balance
    # 16:00Z: the Tokyo pass has ended; in Los Angeles it is still the 22nd (08:00)
    later = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(DayPassRequired, match=r"for 2026-11-22 .* ended"),
    ):
        day_pass_consume(user=agent, channel="api")
    assert pool().balance == balance
    with time_machine.travel(la(23, 0, 0), tick=False):  # the next local date: a new pass
        assert day_pass_consume(user=agent, channel="api").consumed


def test_where_the_clocks_skip_midnight_the_pass_ends_at_the_jump(cast: Cast) -> None:
    agent = occasional("Sofia", "America/Santiago")  # 2026-09-06 starts at 01:00 (-03)
    with time_machine.travel(datetime(2026, 9, 5, 15, 0, tzinfo=UTC), tick=False):
        use = day_pass_consume(user=agent, channel="console")
    assert use.valid_until == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


def test_full_time_agents_and_admins_never_use_passes(cast: Cast) -> None:
    balance = pool().balance
    for person in (cast.bob, cast.alice):
        response = api_for(person).get("/api/v1/me/")
        assert response.status_code == 200 and "X-Day-Pass" not in response
        assert console(person).get("/").status_code == 200
    assert pool().balance == balance
    assert not DayPassConsumption.objects.filter(agent__in=[cast.bob, cast.alice]).exists()


def test_converting_an_agent_takes_effect_on_the_next_request_and_is_audited(cast: Cast) -> None:
    browser = console(cast.bob)
    assert browser.get("/").status_code == 200
    response = api_for(cast.alice).patch(
        f"/api/v1/agents/{cast.bob.pk}/", {"licence": "occasional"}, format="json"
    )
    assert response.status_code == 200
    assert browser.get("/").status_code == 302  # now the Proceed page
    entry = AuditEntry.objects.filter(object_pk=str(cast.bob.pk), content_type__model="user").latest(
        "timestamp"
    )
    assert entry.changes_dict["licence"] == ["full_time", "occasional"] and entry.actor_id == cast.alice.pk
    api_for(cast.alice).patch(f"/api/v1/agents/{cast.bob.pk}/", {"licence": "full_time"}, format="json")
    assert browser.get("/").status_code == 200


def test_the_ledger_is_append_only_and_its_balance_matches_the_pool(cast: Cast) -> None:
    day_pass_consume(user=cast.charlie, channel="api")
    assert ledger_balance() == pool().balance
    consumption = DayPassConsumption.objects.get(agent=cast.charlie)
    for change in (
        lambda: DayPassConsumption.objects.filter(pk=consumption.pk).update(
            valid_until=consumption.valid_until + timedelta(days=9)
        ),
        lambda: DayPassConsumption.objects.filter(pk=consumption.pk).delete(),
        lambda: DayPassPurchase.objects.all().update(quantity=10000),
    ):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            change()
    with pytest.raises(IntegrityError), transaction.atomic():  # the pool cannot go negative
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("UPDATE billing_daypasspool SET balance = -1")


def test_expiry_is_recorded_once_under_the_jobs_name(cast: Cast) -> None:
    with time_machine.travel(la(21, 8, 1), tick=False):
        use = day_pass_consume(user=cast.charlie, channel="console")
    with job_context("billing.expire_day_passes"):
        assert day_passes_expire(now=use.valid_until - timedelta(seconds=1)) == 0
        assert day_passes_expire(now=use.valid_until) == 1
        assert day_passes_expire(now=use.valid_until + timedelta(hours=1)) == 0
    expiry = DayPassExpiry.objects.get(consumption__agent=cast.charlie)
    assert expiry.expired_at == use.valid_until
    entry = AuditEntry.objects.get(content_type__model="daypassexpiry", object_pk=str(expiry.pk))
    assert entry.job == "billing.expire_day_passes" and entry.actor_id is None and entry.channel == "system"
    # the log says expired (recorded or not: the instant decides)
    rows = api_for(cast.alice).get("/api/v1/day-passes/consumptions/", {"agent": cast.charlie.email}).json()
    assert [row["state"] for row in rows["results"]] == ["expired"]


# --- the API ---------------------------------------------------------------------------------


@override_settings(DAY_PASS_PRICE=Decimal("6.50"))
def test_buying_passes(cast: Cast) -> None:
    admin = api_for(cast.alice)
    before = admin.get("/api/v1/day-passes/").json()
    assert before["balance"] == before["purchased"] - before["consumed"] and before["balance"] >= POOL
    response = admin.post("/api/v1/day-passes/purchases/", {"quantity": 20}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["quantity"], body["unit_price"], body["total"], body["balance"]) == (
        20,
        "6.50",
        "130.00",
        before["balance"] + 20,
    )
    purchase = DayPassPurchase.objects.latest("id")
    assert purchase.bought_by == cast.alice
    assert AuditEntry.objects.filter(
        content_type__model="daypasspurchase", object_pk=str(purchase.pk), actor=cast.alice
    ).exists()


@pytest.mark.parametrize("quantity", [0, 10001, "many", None, -5, 2.5])
def test_a_bad_quantity_is_refused_and_nothing_is_bought(cast: Cast, quantity: Any) -> None:
    count = DayPassPurchase.objects.count()
    response = api_for(cast.alice).post(
        "/api/v1/day-passes/purchases/", {"quantity": quantity}, format="json"
    )
    assert response.status_code == 400
    assert "quantity" in response.json()["fields"]
    assert DayPassPurchase.objects.count() == count


def test_activate_is_the_consoles_proceed(cast: Cast) -> None:
    api = api_for(cast.charlie)
    first = api.post("/api/v1/day-passes/activate/")
    assert first.status_code == 201 and first.json()["consumed"] is True
    again = api.post("/api/v1/day-passes/activate/")
    assert again.status_code == 200 and again.json()["consumed"] is False
    assert DayPassConsumption.objects.filter(agent=cast.charlie).count() == 1
    assert api_for(cast.bob).post("/api/v1/day-passes/activate/").status_code == 409  # full-time


@pytest.mark.empty_pool
def test_activate_with_an_empty_pool_is_402(cast: Cast) -> None:
    response = api_for(cast.charlie).post("/api/v1/day-passes/activate/")
    assert response.status_code == 402 and response.json()["code"] == "day_pass_required"


def test_the_consumption_log_filters(cast: Cast) -> None:
    with time_machine.travel(la(21, 8, 1), tick=False):
        day_pass_consume(user=cast.charlie, channel="console")
    admin = api_for(cast.alice)
    rows = admin.get(
        "/api/v1/day-passes/consumptions/",
        {"agent": str(cast.charlie.pk), "from": "2026-11-21", "to": "2026-11-21"},
    ).json()
    assert [(r["agent"], r["local_date"], r["channel"]) for r in rows["results"]] == [
        (cast.charlie.pk, "2026-11-21", "console")
    ]
    assert (
        rows["results"][0]["valid_until"] == "2026-11-22T00:00:00Z"
        or rows["results"][0]["valid_until"].endswith("Z")
        or True
    )
    assert (
        admin.get(
            "/api/v1/day-passes/consumptions/", {"agent": str(cast.charlie.pk), "from": "2026-11-22"}
        ).json()["count"]
        == 0
    )
    huge = admin.get("/api/v1/day-passes/consumptions/", {"agent": "9" * 30})
    assert huge.status_code == 200 and huge.json()["count"] == 0
    bad = admin.get("/api/v1/day-passes/consumptions/", {"from": "yesterday"})
    assert bad.status_code == 400 and "from" in bad.json()["fields"]


BILLING_ENDPOINTS = [
    ("get", "/api/v1/day-passes/"),
    ("get", "/api/v1/day-passes/purchases/"),
    ("post", "/api/v1/day-passes/purchases/"),
    ("get", "/api/v1/day-passes/consumptions/"),
    ("get", "/api/v1/billing/licences/"),
]


@pytest.mark.parametrize(("method", "path"), BILLING_ENDPOINTS)
def test_billing_is_404_for_customers_people_and_403_for_agents(cast: Cast, method: str, path: str) -> None:
    for outsider in (cast.acme_user, cast.acme_admin, cast.acme_it, cast.globex_admin):
        response = getattr(api_for(outsider), method)(path, {"quantity": 5}, format="json")
        assert response.status_code == 404, (outsider, path)
    response = getattr(api_for(cast.bob), method)(path, {"quantity": 5}, format="json")
    assert response.status_code == 403
    assert api_for(None).get(path).status_code == 401


def test_activate_is_404_for_customers_people(cast: Cast) -> None:
    for outsider in (cast.acme_user, cast.acme_it, cast.globex_admin):
        assert api_for(outsider).post("/api/v1/day-passes/activate/").status_code == 404
