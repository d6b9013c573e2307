"""The sweep: each warning and breach recorded once, notified once, to the right people, under
the job's identity; duplicated, concurrent and interrupted sweeps; cost by what is due."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User, UserKind
from audit.models import AuditEntry
from notifications import services as notification_services
from notifications.models import Notification
from sla.models import SlaEvent, SlaTimer
from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.sla.conftest import change, make_policy, open_ticket
from tickets.models import Ticket
from tickets.sla import sweep as sweep_module
from tickets.sla.sweep import SWEEP_LOCK, sla_sweep
from tickets.tasks import sweep as sweep_task

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return CREATED + timedelta(minutes=n)


@pytest.fixture
def quick(cast: Cast) -> Any:
    """P3 of this policy: first response 10 min, resolution 100 min, warnings at 80%."""
    return make_policy("Quick", P3={"first_response": 10, "resolution": 100})


def sla_notes(user: User, ticket: Ticket) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(user=user, ticket_id=ticket.pk, kind__startswith="sla_")
        .order_by("id")
        .values_list("kind", "title")
    )


def test_breach_and_warning_are_recorded_and_notified_once_to_the_assignee(
    cast: Cast, quick: Any, clock: Any, mailoutbox: list[Any]
) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(7))
    assert sla_sweep().recorded == 0  # nothing due yet (warning at 8 min)
    clock(minutes(9))
    assert sla_sweep().recorded == 1  # the first-response warning
    clock(minutes(11))
    result = sla_sweep()
    assert result.recorded == 1 and result.notified == 1  # the first-response breach
    assert [kind for kind, _ in sla_notes(cast.bob, ticket)] == ["sla_warning", "sla_breach"]
    assert "SLA breached (first response)" in sla_notes(cast.bob, ticket)[1][1]
    assert len([m for m in mailoutbox if "SLA" in m.body]) == 2
    for _ in range(3):  # again and again: nothing new
        assert sla_sweep().recorded == 0
    assert len(sla_notes(cast.bob, ticket)) == 2 and len(mailoutbox) == 2
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.first_response_breached_at == minutes(10)
    assert SlaEvent.objects.filter(ticket_id=ticket.pk, customer=cast.acme).count() == 2


def test_unassigned_tickets_notify_the_provider_admins(cast: Cast, quick: Any, clock: Any) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.acme_user)
    ticket = change(cast.acme, ticket, cast.bob, sla_policy=quick)
    clock(minutes(11))
    sla_sweep()
    admins = User.objects.filter(kind=UserKind.PROVIDER_ADMIN, is_active=True)
    assert admins.exists()
    for admin in admins:
        assert [kind for kind, _ in sla_notes(admin, ticket)] == ["sla_warning", "sla_breach"]
    assert sla_notes(cast.bob, ticket) == []


def test_the_sweep_writes_audit_entries_under_its_job_name(cast: Cast, quick: Any, clock: Any) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(11))
    sweep_task()  # the task as the worker runs it: under the job identity "sla.sweep"
    with customer_schema(cast.acme):
        entries = list(
            AuditEntry.objects.filter(object_pk=str(ticket.pk), content_type__model="ticket", job="sla.sweep")
        )
    assert entries and all(entry.actor_id is None and entry.channel == "system" for entry in entries)
    changed = {name for entry in entries for name in entry.changes_dict}
    assert {"first_response_breached_at", "sla_recorded"} <= changed


def test_paused_clocks_do_not_breach_and_resume_where_they_left(cast: Cast, quick: Any, clock: Any) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(5))
    with customer_schema(cast.acme):
        from tickets import workflows

        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Which room?")
    ticket = change(cast.acme, ticket, cast.bob, status="pending")  # first response met, resolution paused
    clock(minutes(500))
    sla_sweep()
    assert sla_notes(cast.bob, ticket) == []
    ticket = change(cast.acme, ticket, cast.bob, status="open")
    assert ticket.resolution_due == minutes(500 + 95)


def test_a_re_resolution_that_moves_the_due_time_earns_one_more_warning(
    cast: Cast, quick: Any, clock: Any
) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(81))
    sla_sweep()  # first response breached (and warned), resolution warned at 80
    warnings = [kind for kind, _ in sla_notes(cast.bob, ticket)].count("sla_warning")
    slower = make_policy("Slower", P3={"first_response": 10, "resolution": 200})
    change(cast.acme, ticket, cast.bob, sla_policy=slower)  # resolution warning moves to 160
    clock(minutes(161))
    sla_sweep()
    assert [kind for kind, _ in sla_notes(cast.bob, ticket)].count("sla_warning") == warnings + 1
    # the first-response breach stays a single fact
    assert [kind for kind, _ in sla_notes(cast.bob, ticket)].count("sla_breach") == 1


@pytest.mark.parametrize("crash", ["after_record", "during_delivery"])
def test_an_interrupted_sweep_neither_loses_nor_duplicates(
    cast: Cast, quick: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, mailoutbox: list[Any], crash: str
) -> None:
    clock(CREATED)
    ticket = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(11))
    real_email = notification_services._email
    calls = {"n": 0}

    def dies(*args: Any) -> None:
        calls["n"] += 1
        if crash == "after_record" or calls["n"] == 2:
            raise SystemExit("worker killed")
        real_email(*args)

    # after_record: killed before any email went out; during_delivery: after the first one
    monkeypatch.setattr(notification_services, "_email", dies)
    with pytest.raises(SystemExit):
        sla_sweep()
    monkeypatch.setattr(notification_services, "_email", real_email)
    # the events were committed before the crash; the timers they came from are gone
    assert SlaEvent.objects.filter(ticket_id=ticket.pk, customer=cast.acme).count() == 2
    sla_sweep()
    sla_sweep()
    assert [kind for kind, _ in sla_notes(cast.bob, ticket)] == ["sla_warning", "sla_breach"]
    assert len(mailoutbox) == 2
    assert not SlaEvent.objects.filter(customer=cast.acme, notified_at__isnull=True).exists()


def test_only_one_sweep_runs_at_a_time(cast: Cast, quick: Any, clock: Any) -> None:
    clock(CREATED)
    open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(11))
    held, release = threading.Event(), threading.Event()

    def other_sweeper() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [SWEEP_LOCK])
                held.set()
                release.wait(10)
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])
        finally:
            other.close()

    thread = threading.Thread(target=other_sweeper)
    thread.start()
    try:
        assert held.wait(10)
        assert sla_sweep().ran is False  # the other one is sweeping: this one leaves it alone
    finally:
        release.set()
        thread.join()
    result = sla_sweep()
    assert result.ran and result.recorded == 2


def statements(queries: CaptureQueriesContext) -> int:
    return sum(not query["sql"].startswith("SET search_path") for query in queries.captured_queries)


def test_a_sweep_costs_what_is_due_not_what_exists(cast: Cast, quick: Any, clock: Any) -> None:
    clock(CREATED)
    due_one = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(10.5))
    sla_sweep()  # warning and breach of first response recorded; nothing else due
    clock(minutes(10.6))
    with CaptureQueriesContext(connection) as idle_few:
        sla_sweep()
    for _ in range(5):
        open_ticket(cast.acme, cast.acme_user)
        open_ticket(cast.globex, cast.globex_user)
    with CaptureQueriesContext(connection) as idle_many:
        sla_sweep()
    # SET search_path is sent only when the path changes (serviflow.database): it depends on
    # what ran before, not on what exists, so it is left out of the comparison.
    assert statements(idle_many) == statements(idle_few) <= 10
    assert (
        SlaTimer.objects.filter(customer=cast.acme, ticket_id=due_one.pk, clock="first_response").count() == 0
    )


@pytest.mark.parametrize("per_transaction", [1, 50])
def test_due_clocks_of_several_customers_are_recorded_each_in_its_own_schema(
    cast: Cast, quick: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, per_transaction: int
) -> None:
    monkeypatch.setattr(sweep_module, "CUSTOMERS_PER_TRANSACTION", per_transaction)
    clock(CREATED)
    # tickets that are not due, in both customers (ids in one schema are ids in the other too)
    quiet = [open_ticket(customer, cast.alice) for customer in (cast.acme, cast.globex) for _ in range(2)]
    acme = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    globex = open_ticket(cast.globex, cast.charlie, sla_policy=quick, assignee=cast.charlie)
    untouched = {customer.slug: sla_state(customer) for customer in (cast.acme, cast.globex)}
    clock(minutes(11))
    result = sla_sweep()
    assert result.recorded == 4 and result.failed == []  # warning and breach, in each customer
    for customer, ticket, agent in ((cast.acme, acme, cast.bob), (cast.globex, globex, cast.charlie)):
        with customer_schema(customer):
            ticket.refresh_from_db()
            updates = AuditEntry.objects.filter(
                object_pk=str(ticket.pk), content_type__model="ticket", action=AuditEntry.Action.UPDATE
            )
            breached = [entry for entry in updates if "first_response_breached_at" in entry.changes_dict]
        assert ticket.first_response_breached_at == minutes(10)
        assert ticket.sla_recorded == {"first_response:breach": 0, "first_response:warning": 0}
        assert len(breached) == 1  # the sweep's entry, in this customer's own audit trail
        assert breached[0].changes_dict["first_response_breached_at"][0] == "None"
        assert [kind for kind, _ in sla_notes(agent, ticket)] == ["sla_warning", "sla_breach"]
        assert SlaEvent.objects.filter(customer=customer, ticket_id=ticket.pk).count() == 2
    for customer, due in ((cast.acme, acme), (cast.globex, globex)):
        after = sla_state(customer)
        del after[due.pk], untouched[customer.slug][due.pk]
        assert after == untouched[customer.slug] and len(after) >= 2, quiet


def sla_state(customer: Any) -> dict[int, tuple[Any, ...]]:
    with customer_schema(customer):
        return {
            ticket.pk: (ticket.first_response_breached_at, ticket.sla_recorded, ticket.first_response_due)
            for ticket in Ticket.objects.all()
        }


def test_a_customer_whose_clocks_fail_does_not_hold_up_the_others(
    cast: Cast, quick: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock(CREATED)
    acme = open_ticket(cast.acme, cast.bob, "Corrupt", sla_policy=quick, assignee=cast.bob)
    globex = open_ticket(cast.globex, cast.charlie, sla_policy=quick, assignee=cast.charlie)
    clock(minutes(11))
    from sla.engine.keeping import sla_compute as real_compute

    def broken_for_acme(ticket: Ticket, now: datetime) -> Any:
        if ticket.subject == "Corrupt":
            raise ValueError("a corrupt snapshot")
        return real_compute(ticket, now)

    monkeypatch.setattr(sweep_module, "sla_compute", broken_for_acme)
    result = sla_sweep()
    assert result.failed == ["acme"] and result.recorded == 2  # Globex's warning and breach
    assert "acme failed" in caplog.text and "a corrupt snapshot" in caplog.text
    assert SlaTimer.objects.filter(customer=cast.acme, ticket_id=acme.pk).exists()  # kept for later
    assert not SlaEvent.objects.filter(customer=cast.acme).exists()
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=acme.pk).first_response_breached_at is None
    assert [kind for kind, _ in sla_notes(cast.charlie, globex)] == ["sla_warning", "sla_breach"]
    monkeypatch.setattr(sweep_module, "sla_compute", real_compute)
    assert sla_sweep().recorded == 2  # repaired: the next sweep records Acme's
    assert [kind for kind, _ in sla_notes(cast.bob, acme)] == ["sla_warning", "sla_breach"]


def test_a_sweeps_statements_do_not_grow_with_the_customers_that_have_due_clocks(
    cast: Cast, quick: Any, clock: Any
) -> None:
    clock(CREATED)
    first = open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    clock(minutes(11))
    with CaptureQueriesContext(connection) as one_customer:
        assert sla_sweep().recorded == 2
    change(cast.acme, first, cast.bob, status="resolved")
    clock(CREATED + timedelta(days=1))
    open_ticket(cast.acme, cast.bob, sla_policy=quick, assignee=cast.bob)
    open_ticket(cast.globex, cast.charlie, sla_policy=quick, assignee=cast.charlie)
    clock(CREATED + timedelta(days=1, minutes=11))
    with CaptureQueriesContext(connection) as two_customers:
        assert sla_sweep().recorded == 4
    # notifications are emailed and marked one by one (4 rows against 2): the rest is the same
    # two more notifications: each email's Message-ID stored with its thread read (one statement,
    # mail.outbound) and the UPDATE that claims it, in its own transaction (here a savepoint and
    # its release: notifications.services._email_once)
    emails = 2 * 4
    # Charlie is occasional: one look-up of passes for the whole batch
    passes = 1
    # (SET search_path left out: sent only when the path changes, see statements())
    assert statements(two_customers) == statements(one_customer) + emails + passes
