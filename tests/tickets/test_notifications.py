"""Notifications: who hears about what, exactly once, after commit; the feed API; and the task
run by a real worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from billing.services import day_pass_consume
from notifications.models import Notification
from people.models import CustomerUser
from people.services import CustomerUserFields, customer_user_create
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import PASSWORD, Cast, api_for
from tests.support.processes import wait_for
from tickets import workflows
from tickets.index.services import display_number
from tickets.models import Ticket, TicketEvent
from tickets.sla.sweep import sla_sweep
from tickets.tasks import notify_event


def run_events(customer: Customer, ticket: Ticket) -> None:
    """What the worker does after commit (the test transaction never commits)."""
    with customer_schema(customer):
        for event_id in TicketEvent.objects.filter(ticket=ticket, notified_at__isnull=True).values_list(
            "pk", flat=True
        ):
            notify_event(event_id)


def kinds(user: User) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def test_created_assigned_replied_and_resolved_reach_the_right_people(cast: Cast) -> None:
    acme = cast.acme
    with customer_schema(acme):
        ticket = workflows.ticket_create(
            customer=acme, by=cast.acme_user, new=workflows.NewTicket(subject="Disk full")
        )
        run_events(acme, ticket)
        assert kinds(cast.acme_user) == ["ticket_created"]
        # email.md: the subject is "[ACME-n] <ticket subject>"
        (received,) = [message for message in mail.outbox if message.to == ["user@acme.test"]]
        assert received.subject == f"[{display_number(acme, ticket.number)}] Disk full"
        assert "We received your request" in received.body
        # the default rules: the member agents hear of a new unassigned ticket
        assert kinds(cast.bob) == ["ticket_created"] and "New ticket from user" in mail.outbox[-1].body
        workflows.ticket_update(
            customer=acme, ticket=ticket, by=cast.alice, changes=workflows.TicketChanges(assignee=cast.bob)
        )
        run_events(acme, ticket)
        assert kinds(cast.bob) == ["ticket_created", "ticket_assigned"]
        assert mail.outbox[-1].to == ["bob@msp.test"] and "/customers/acme/tickets/" in mail.outbox[-1].body
        workflows.comment_add(customer=acme, ticket=ticket, by=cast.bob, body="Deleted old logs")
        workflows.comment_add(customer=acme, ticket=ticket, by=cast.bob, body="private", public=False)
        run_events(acme, ticket)
        assert kinds(cast.acme_user) == ["ticket_created", "ticket_reply"]
        assert "Deleted old logs" in mail.outbox[-1].body and "private" not in mail.outbox[-1].body
        assert f"http://acme.localhost:8000/tickets/{ticket.pk}/" in mail.outbox[-1].body
        workflows.comment_add(customer=acme, ticket=ticket, by=cast.acme_user, body="Thanks!")
        run_events(acme, ticket)
        assert kinds(cast.bob) == ["ticket_created", "ticket_assigned", "ticket_reply"]
        workflows.ticket_update(
            customer=acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(status="resolved")
        )
        run_events(acme, ticket)
        assert kinds(cast.acme_user)[-1] == "ticket_resolved"


def test_nobody_is_told_about_their_own_change(cast: Cast) -> None:
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="x")
        )
        workflows.ticket_update(
            customer=cast.acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(assignee=cast.bob)
        )
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="self")
        run_events(cast.acme, ticket)
    assert kinds(cast.bob) == ["ticket_reply"]  # no "assigned" for assigning himself
    assert kinds(cast.acme_user) == ["ticket_created"]


def test_a_repeated_event_notifies_once(cast: Cast) -> None:
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="x")
        )
        event = TicketEvent.objects.get(ticket=ticket)
        sent = len(mail.outbox)
        assert notify_event(event.pk) == 2  # the requester and Bob, Acme's member agent
        assert notify_event(event.pk) == 2  # the same rows again, nothing new
    assert Notification.objects.filter(user=cast.acme_user).count() == 1
    assert len(mail.outbox) == sent + 2


def test_side_effects_wait_for_commit(cast: Cast, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks, customer_schema(cast.acme):
        workflows.ticket_create(customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="x"))
    # two callbacks, both after commit: the outbox event's enqueue and the automation rules' run
    assert len(callbacks) == 2 and not Notification.objects.filter(user=cast.acme_user).exists()


def test_feed_api_lists_and_marks_read(cast: Cast) -> None:
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="feed")
        )
        run_events(cast.acme, ticket)
    client = api_for(cast.acme_user)
    items = client.get("/api/v1/notifications/").json()["results"]
    assert items[0]["kind"] == "ticket_created" and items[0]["ticket"] == ticket.pk
    assert items[0]["customer"] == "acme" and items[0]["read"] is False and items[0]["at"]
    assert client.post(f"/api/v1/notifications/{items[0]['id']}/read/").json() == {"marked": 1}
    assert client.get("/api/v1/notifications/?unread=true").json()["results"] == []
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert api_for(None).get("/api/v1/notifications/").status_code == 401


# --- issue 12: an occasional agent without a day pass -----------------------------------------------


def _charlies_mail() -> list[Any]:
    return [message for message in mail.outbox if message.to == ["charlie@msp.test"]]


def test_an_occasional_agent_without_a_day_pass_received_ticket_text_by_email(cast: Cast) -> None:
    """Finding 7: reading a ticket costs an occasional agent a day pass; its text by email
    cost nothing. Without an active pass Charlie is told what happened on which ticket, with
    the link, but neither the subject nor the reply, by email or in the feed; with one, the
    text comes as for everyone."""
    globex = cast.globex
    with customer_schema(globex):
        ticket = workflows.ticket_create(
            customer=globex,
            by=cast.globex_user,
            new=workflows.NewTicket(subject="Payroll export broken", description="Salaries of March"),
        )
        number = display_number(globex, ticket.number)
        workflows.ticket_update(
            customer=globex,
            ticket=ticket,
            by=cast.alice,
            changes=workflows.TicketChanges(assignee=cast.charlie),
        )
        workflows.comment_add(
            customer=globex, ticket=ticket, by=cast.globex_user, body="The password is hunter2"
        )
        run_events(globex, ticket)
    sent = _charlies_mail()
    assert [message.subject for message in sent] == [
        f"[{number}] Ticket assigned to you",
        f"[{number}] New reply",
    ]
    link = f"/customers/globex/tickets/{ticket.pk}/"
    for message in sent:
        text = message.subject + message.body
        assert "Payroll" not in text and "Salaries" not in text and "hunter2" not in text
        assert "no active day pass" in message.body and link in message.body
    feed = Notification.objects.filter(user=cast.charlie).order_by("id")
    assert [(n.kind, n.title) for n in feed] == [
        ("ticket_assigned", f"[{number}] Ticket assigned to you"),
        ("ticket_reply", f"[{number}] New reply"),
    ]
    assert not any("hunter2" in n.body or "Payroll" in n.title for n in feed)

    day_pass_consume(user=cast.charlie, channel="console")  # Proceed: the text comes again
    with customer_schema(globex):
        workflows.comment_add(customer=globex, ticket=ticket, by=cast.globex_user, body="Any news?")
        run_events(globex, ticket)
    latest = _charlies_mail()[-1]
    assert "Payroll export broken" in latest.subject and "Any news?" in latest.body
    # A full-time agent never needed a pass for it.
    with customer_schema(cast.acme):
        other = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="Printer jam")
        )
        workflows.ticket_update(
            customer=cast.acme,
            ticket=other,
            by=cast.alice,
            changes=workflows.TicketChanges(assignee=cast.bob),
        )
        run_events(cast.acme, other)
    assert "Printer jam" in mail.outbox[-1].subject and mail.outbox[-1].to == ["bob@msp.test"]


def test_an_occasional_agent_without_a_day_pass_received_sla_alerts_with_ticket_text(cast: Cast) -> None:
    """Finding 7, the SLA sweep: warnings and breaches to a pass-less occasional assignee name
    the ticket's reference only."""
    quick = SlaPolicy.objects.create(
        name="Quick", targets={**STANDARD_TARGETS, "P3": {"first_response": 10, "resolution": 100}}
    )
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False), customer_schema(cast.globex):
        requester = CustomerUser.objects.get(user=cast.globex_user)
        ticket = workflows.ticket_create(
            customer=cast.globex,
            by=cast.alice,
            new=workflows.NewTicket(
                subject="Payroll export broken", requester=requester, assignee=cast.charlie, sla_policy=quick
            ),
        )
        number = display_number(cast.globex, ticket.number)
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert sla_sweep().recorded == 2
    alerts = Notification.objects.filter(user=cast.charlie, kind__startswith="sla_").order_by("id")
    assert [n.title for n in alerts] == [f"[{number}] SLA warning", f"[{number}] SLA breached"]
    assert all("Payroll" not in message.subject + message.body for message in _charlies_mail())
    assert len(_charlies_mail()) == 2


# --- a real worker -----------------------------------------------------------------------------


@pytest.mark.worker
def test_the_worker_sends_ticket_notifications_after_commit(
    worker_queue: str, mail_dir: Path, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock():
        with job_context("tests.worker"):
            customer = customer_provision(name="Notify", slug=f"nt-{tag}")
            with customer_schema(customer):
                requester = customer_user_create(
                    customer=customer,
                    fields=CustomerUserFields(email=f"req@{tag}.test", name="Req"),
                    password=PASSWORD,
                ).user
            agent = agent_create(
                fields=AgentFields(email=f"ag-{tag}@msp.test", name="Ag", customers=(customer,)),
                password=PASSWORD,
            )
        created = api_for(requester).post(
            f"/api/v1/customers/{customer.slug}/tickets/", {"subject": f"Worker {tag}"}, format="json"
        )
        assert created.status_code == 201
        ticket_id = created.json()["id"]
        api_for(agent).patch(
            f"/api/v1/customers/{customer.slug}/tickets/{ticket_id}/", {"assignee": "me"}, format="json"
        )
        api_for(agent).post(
            f"/api/v1/customers/{customer.slug}/tickets/{ticket_id}/comments/",
            {"body": "On my way"},
            format="json",
        )
        wait_for(lambda: Notification.objects.filter(user=requester).count() == 2)
        assert sorted(Notification.objects.filter(user=requester).values_list("kind", flat=True)) == [
            "ticket_created",
            "ticket_reply",
        ]
        # never of what he did himself; of the new ticket only if the worker got to it before he
        # took it (the default rule tells member agents of tickets still unassigned when sent)
        told = set(Notification.objects.filter(user=agent).values_list("kind", flat=True))
        assert told <= {"ticket_created"}
        with customer_schema(customer):
            wait_for(lambda: not TicketEvent.objects.filter(notified_at__isnull=True).exists())
    mails = "\n".join(path.read_text() for path in mail_dir.glob("*.log"))
    assert f"Worker {tag}" in mails and "On my way" in mails
