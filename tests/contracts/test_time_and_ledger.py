"""Time entries (never edited, reversed by new entries, refused in a closed month), contracts and
the prepaid ledger (append-only, balance = the sum, overage shown, one warning per crossing,
expiry at the customer's local midnight), over the API and the services."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.models import User
from audit.context import job_context
from contracts import services, time
from contracts.models import Contract, EntryKind, PrepaidEntry, TimeEntry
from notifications.models import Notification
from sla.models import SlaPolicy
from tenants.schema import customer_schema
from tenants.services import customer_archive, customer_provision
from tests.conftest import Cast, _customer_user, api_for
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.models import Ticket


def url(cast: Cast, tail: str, customer: str = "acme") -> str:
    return f"/api/v1/customers/{customer}/{tail}"


def contract(cast: Cast, **values: object) -> Contract:
    fields = {"name": "Managed 2026", "starts_on": date(2026, 1, 1), "ends_on": None} | values
    return services.contract_create(customer=cast.acme, by=cast.alice, values=fields)


def log(cast: Cast, ticket: Ticket, body: dict[str, Any], user: User | None = None) -> Any:
    return api_for(user or cast.bob).post(
        url(cast, f"tickets/{ticket.pk}/time-entries/"), body, format="json"
    )


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_time_entries_are_logged_reversed_and_summed(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user)
    made = log(cast, ticket, {"minutes": 45, "work_date": "2026-12-07", "billable": True, "note": "patched"})
    assert made.status_code == 201, made.content
    entry = made.json()
    assert entry["minutes"] == 45 and entry["agent"]["name"] == "bob" and entry["reverses"] is None
    assert log(cast, ticket, {"minutes": 30, "work_date": "2026-12-06", "billable": False}).status_code == 201
    reversal = log(cast, ticket, {"reverses": entry["id"], "note": "wrong ticket"})
    assert reversal.status_code == 201, reversal.content
    assert reversal.json()["minutes"] == -45 and reversal.json()["work_date"] == "2026-12-07"
    again = log(cast, ticket, {"reverses": entry["id"]})
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    of_reversal = log(cast, ticket, {"reverses": reversal.json()["id"]})
    assert of_reversal.status_code == 400 and "reverses" in of_reversal.json()["fields"]
    listed = api_for(cast.bob).get(url(cast, f"tickets/{ticket.pk}/time-entries/")).json()
    assert [item["minutes"] for item in listed] == [45, 30, -45]
    read = api_for(cast.bob).get(url(cast, f"tickets/{ticket.pk}/")).json()
    assert read["time_minutes"] == 30
    # Entries are never edited, not even by the database's owner.
    with customer_schema(cast.acme), pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TimeEntry.objects.filter(pk=entry["id"]).update(minutes=1)


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_time_input_is_checked_and_only_agents_log(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user)
    bodies: list[tuple[dict[str, Any], str]] = [
        ({"minutes": 0, "work_date": "2026-12-07"}, "minutes"),
        ({"minutes": 2000, "work_date": "2026-12-07"}, "minutes"),
        ({"minutes": 5}, "work_date"),
        ({"work_date": "2026-12-07"}, "minutes"),
        ({"minutes": 5, "work_date": "2026-12-31"}, "work_date"),
        ({"minutes": 5, "work_date": "２０２６-12-07"}, "work_date"),  # noqa: RUF001 - full-width digits, on purpose
        ({"minutes": 5, "work_date": "2026-12-07", "reverses": 999999}, "reverses"),
        ({"minutes": 5, "work_date": "2026-12-07", "hours": 1}, "hours"),
    ]
    for body, field in bodies:
        response = log(cast, ticket, body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["fields"], (body, response.json())
    assert log(cast, ticket, {"minutes": 5, "work_date": "2026-12-07"}, cast.acme_user).status_code == 403
    assert log(cast, ticket, {"minutes": 5, "work_date": "2026-12-07"}, cast.acme_admin).status_code == 403
    assert log(cast, ticket, {"minutes": 5, "work_date": "2026-12-07"}, cast.acme_it).status_code == 201
    # Another customer's agent does not find the ticket at all.
    assert log(cast, ticket, {"minutes": 5, "work_date": "2026-12-07"}, cast.charlie).status_code == 404
    assert TimeEntry.objects.count() == 1


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_a_closed_month_refuses_entries_and_corrections_go_to_the_next_open_month(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user)
    november = log(cast, ticket, {"minutes": 60, "work_date": "2026-11-30"}).json()
    closing = api_for(cast.bob).post(url(cast, "months/2026-11/close/"))
    assert closing.status_code == 403
    closing = api_for(cast.alice).post(url(cast, "months/2026-11/close/"))
    assert closing.status_code == 201 and closing.json()["month"] == "2026-11"
    assert api_for(cast.alice).post(url(cast, "months/2026-11/close/")).status_code == 409
    assert api_for(cast.alice).post(url(cast, "months/2026-13/close/")).status_code == 400
    refused = log(cast, ticket, {"minutes": 15, "work_date": "2026-11-12"})
    assert refused.status_code == 409 and refused.json()["code"] == "month_closed"
    dated = log(cast, ticket, {"reverses": november["id"], "work_date": "2026-11-30"})
    assert dated.status_code == 409 and dated.json()["code"] == "month_closed"
    correction = log(cast, ticket, {"reverses": november["id"]})
    assert correction.status_code == 201
    assert correction.json()["work_date"] == "2026-12-01" and correction.json()["reverses"] == november["id"]
    # Globex's November is its own.
    assert TimeEntry.objects.filter(customer=cast.acme).count() == 2


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_contracts_over_the_api_and_the_sla_names_the_contract(cast: Cast) -> None:
    gold = SlaPolicy.objects.create(
        name="Gold contract",
        targets={p: {"first_response": 30, "resolution": 240} for p in ("P1", "P2", "P3", "P4")},
    )
    body = {
        "name": "Managed 2026",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "sla_policy": gold.pk,
        "prepaid_hours": 10,
        "rollover": False,
        "warn_percent": 25,
    }
    assert api_for(cast.bob).post(url(cast, "contracts/"), body, format="json").status_code == 403
    assert api_for(cast.acme_admin).post(url(cast, "contracts/"), body, format="json").status_code == 404
    made = api_for(cast.alice).post(url(cast, "contracts/"), body, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["balance_minutes"] == 600 and made.json()["prepaid_hours"] == 10
    bad = api_for(cast.alice).post(url(cast, "contracts/"), body | {"ends_on": "2025-01-01"}, format="json")
    assert bad.status_code == 400 and "ends_on" in bad.json()["fields"]
    assert api_for(cast.acme_admin).get(url(cast, "contracts/")).status_code == 200
    assert api_for(cast.acme_user).get(url(cast, "contracts/")).status_code == 403
    assert api_for(cast.globex_admin).get(url(cast, "contracts/")).status_code == 404
    ticket = make_ticket(cast, cast.acme_user)
    sla = api_for(cast.bob).get(url(cast, f"tickets/{ticket.pk}/")).json()["sla"]
    assert sla["source"] == "contract" and "Managed 2026" in sla["reason"]
    ledger = api_for(cast.acme_admin).get(url(cast, f"contracts/{made.json()['id']}/ledger/")).json()
    assert ledger["balance_minutes"] == 600 and [e["kind"] for e in ledger["entries"]] == ["topup"]


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_billable_time_draws_down_reversal_draws_back_and_overage_is_shown(cast: Cast) -> None:
    block = contract(cast, prepaid_hours=Decimal(2), warn_percent=50)
    ticket = make_ticket(cast, cast.acme_user)
    first = log(cast, ticket, {"minutes": 50, "work_date": "2026-12-07"}).json()
    log(cast, ticket, {"minutes": 20, "work_date": "2026-12-07", "billable": False})
    assert services.balance_of(block).minutes == 70
    log(cast, ticket, {"reverses": first["id"]})
    assert services.balance_of(block).minutes == 120
    log(cast, ticket, {"minutes": 200, "work_date": "2026-12-07"})
    balance = services.balance_of(block)
    assert balance.minutes == -80 and balance.overage == 80 and balance.low
    kinds = list(PrepaidEntry.objects.filter(contract=block).values_list("kind", "minutes"))
    assert kinds == [("topup", 120), ("drawdown", -50), ("reversal", 50), ("drawdown", -200)]
    topped = api_for(cast.alice).post(
        url(cast, f"contracts/{block.pk}/ledger/"), {"kind": "topup", "minutes": 600}, format="json"
    )
    assert topped.status_code == 201 and topped.json()["balance_minutes"] == 520
    assert (
        api_for(cast.bob)
        .post(url(cast, f"contracts/{block.pk}/ledger/"), {"kind": "topup", "minutes": 600}, format="json")
        .status_code
        == 403
    )
    wrong = api_for(cast.alice).post(
        url(cast, f"contracts/{block.pk}/ledger/"), {"kind": "drawdown", "minutes": 5}, format="json"
    )
    assert wrong.status_code == 400 and "kind" in wrong.json()["fields"]


def test_twenty_concurrent_billable_entries_keep_the_ledger_and_warn_once(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    """Committed rows (each thread has its own connection), in a customer of the test's own: its
    contract and ledger stay (they are append-only), and nobody else's SLA is touched."""
    with django_db_blocker.unblock(), job_context("tests.concurrency"):
        alice = User.objects.get(email="alice@msp.test")
        slug = f"ledger-{uuid.uuid4().hex[:6]}"
        customer = customer_provision(name="Ledger Co", slug=slug, timezone_name="Europe/Berlin")
        admin = _customer_user(customer, f"admin@{slug}.test", "admin")
        with customer_schema(customer):
            ticket = workflows.ticket_create(
                customer=customer, by=admin, new=workflows.NewTicket(subject="x")
            )
        today = services.local_today(customer)
        block = services.contract_create(
            customer=customer,
            by=alice,
            values={"name": "Block", "starts_on": today, "prepaid_hours": Decimal(10), "warn_percent": 20},
        )  # warns below 120 minutes
        barrier = threading.Barrier(20)
        failures: list[BaseException] = []

        def one() -> None:
            try:
                barrier.wait(timeout=30)
                with job_context("tests.concurrency"), customer_schema(customer):
                    time.time_log(
                        customer=customer,
                        ticket_id=ticket.pk,
                        by=alice,
                        agent=True,
                        data=time.TimeInput(minutes=25, work_date=today),
                    )
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                connection.close()  # this thread's own connection

        threads = [threading.Thread(target=one) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        try:
            assert failures == []
            entries = PrepaidEntry.objects.filter(contract=block)
            assert entries.filter(kind=EntryKind.DRAWDOWN).count() == 20
            total = sum(entries.values_list("minutes", flat=True))
            assert services.balance_of(block).minutes == 600 - 20 * 25 == total
            warnings = Notification.objects.filter(kind="prepaid_low", customer=customer)
            # Crossed once (from 125 to 100): one warning to each provider admin and customer admin.
            assert warnings.values("event_key").distinct().count() == 1
            assert sorted(warnings.filter(user__customer=customer).values_list("user__email", flat=True)) == [
                admin.email
            ]
            assert warnings.filter(user=alice).count() == 1
        finally:
            customer_archive(customer=customer)


@time_machine.travel(datetime(2026, 12, 7, 12, tzinfo=UTC), tick=False)
def test_a_warning_per_crossing(cast: Cast, django_capture_on_commit_callbacks: Any) -> None:
    block = contract(cast, prepaid_hours=Decimal(1), warn_percent=50)  # below 30 minutes
    ticket = make_ticket(cast, cast.acme_user)
    with django_capture_on_commit_callbacks(execute=True):
        for minutes in (20, 20, 5):  # 60 -> 40 -> 20 (crossing) -> 15
            log(cast, ticket, {"minutes": minutes, "work_date": "2026-12-07"})
        services.topup(contract=block, by=cast.alice, minutes=100)  # 115: above 50 again
        log(cast, ticket, {"minutes": 90, "work_date": "2026-12-07"})  # 25: crossing again
    assert Notification.objects.filter(kind="prepaid_low", user=cast.acme_admin).count() == 2
    assert (
        len(
            [
                m
                for m in mail.outbox
                if "prepaid hours running low" in m.subject and m.to == ["alice@msp.test"]
            ]
        )
        == 2
    )
    assert Notification.objects.filter(kind="prepaid_low", user=cast.alice).count() == 2


def test_expiry_and_rollover_at_the_customers_local_midnight(cast: Cast) -> None:
    # Acme is in Europe/Berlin: 2026-06-30 ends at 2026-06-30T22:00Z.
    ending = contract(
        cast, name="H1", starts_on=date(2026, 1, 1), ends_on=date(2026, 6, 30), prepaid_hours=Decimal(5)
    )
    rolling = contract(
        cast,
        name="Q3",
        starts_on=date(2026, 7, 1),
        ends_on=date(2026, 9, 30),
        prepaid_hours=Decimal(1),
        rollover=True,
    )
    following = contract(cast, name="Q4", starts_on=date(2026, 10, 1), prepaid_hours=Decimal(1))
    with job_context(services.EXPIRY_JOB):
        assert services.expire_due(datetime(2026, 6, 30, 21, 59, 59, tzinfo=UTC)) == 0
        assert services.expire_due(datetime(2026, 6, 30, 22, 0, tzinfo=UTC)) == 1
        assert services.expire_due(datetime(2026, 6, 30, 22, 5, tzinfo=UTC)) == 0  # once
        expiry = PrepaidEntry.objects.get(contract=ending, kind=EntryKind.EXPIRY)
        assert expiry.minutes == -300 and expiry.at == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
        assert services.balance_of(ending).minutes == 0
        assert services.expire_due(datetime(2026, 9, 30, 22, 0, tzinfo=UTC)) == 1
    assert services.balance_of(rolling).minutes == 0
    assert services.balance_of(following).minutes == 120
    moved = PrepaidEntry.objects.get(contract=following, kind=EntryKind.TOPUP, by_job=services.EXPIRY_JOB)
    assert moved.minutes == 60 and moved.note == "rolled over from Q3"
