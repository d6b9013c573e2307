"""Notification rules (issue 19): who is told of what, by the customer's rules, the
provider-wide ones or the built-in defaults; quiet hours and their digest; mutes; the preview
and the rules API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail

from accounts.models import User
from audit.models import AuditEntry
from notifications.configure import preference_set
from notifications.models import Notification, NotificationRule
from notifications.services import digests_send
from reports.issuing import report_issue
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.processes import free_port
from tickets import collaborators, workflows
from tickets.models import Ticket, TicketEvent
from tickets.sla.sweep import sla_sweep
from tickets.tasks import notify_event

pytestmark = pytest.mark.django_db

# Tuesday 8 December 2026, 21:30 UTC: 22:30 in Berlin, 16:30 in New York.
EVENING = datetime(2026, 12, 8, 21, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


@pytest.fixture
def clock() -> Iterator[Any]:
    """``clock(at)`` moves the frozen time to ``at`` (no ticking)."""
    travellers: list[Any] = []

    def move(at: datetime) -> None:
        if travellers:
            travellers.pop().stop()
        travel = time_machine.travel(at, tick=False)
        travel.start()
        travellers.append(travel)

    yield move
    if travellers:
        travellers.pop().stop()


def run_events(customer: Customer, ticket: Ticket) -> None:
    """What the worker does after commit (the test transaction never commits)."""
    with customer_schema(customer):
        pending = TicketEvent.objects.filter(ticket=ticket, notified_at__isnull=True).order_by("id")
        for event_id in pending.values_list("pk", flat=True):
            notify_event(event_id)


def open_ticket(cast: Cast, subject: str = "Printer jam", **kw: Any) -> Ticket:
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject=subject, **kw)
        )
    run_events(cast.acme, ticket)
    return ticket


def kinds(user: User, ticket: Ticket | None = None) -> list[str]:
    found = Notification.objects.filter(user=user).order_by("id")
    if ticket is not None:
        found = found.filter(ticket_id=ticket.pk)
    return list(found.values_list("kind", flat=True))


def mails_to(address: str) -> list[Any]:
    return [message for message in mail.outbox if message.to == [address]]


def rules_url(slug: str = "acme") -> str:
    return f"/api/v1/customers/{slug}/notification-rules/"


# --- the defaults --------------------------------------------------------------------------------


def test_a_new_unassigned_ticket_tells_the_member_agents(cast: Cast) -> None:
    ticket = open_ticket(cast)
    assert kinds(cast.bob, ticket) == ["ticket_created"]  # Acme's member agent
    assert kinds(cast.charlie, ticket) == []  # Globex's, not Acme's
    assert kinds(cast.acme_user, ticket) == ["ticket_created"]  # the requester's receipt
    (told,) = mails_to("bob@msp.test")
    assert "New ticket from user" in told.body and f"/customers/acme/tickets/{ticket.pk}/" in told.body


def test_a_customer_reply_on_an_unassigned_ticket_tells_the_member_agents(cast: Cast) -> None:
    ticket = open_ticket(cast)
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="Still jammed")
    run_events(cast.acme, ticket)
    assert kinds(cast.bob, ticket) == ["ticket_created", "ticket_reply"]
    assert "Still jammed" in mails_to("bob@msp.test")[-1].body
    # once someone has it, the member agents are no longer told: its assignee is
    with customer_schema(cast.acme):
        workflows.ticket_update(
            customer=cast.acme,
            ticket=ticket,
            by=cast.alice,
            changes=workflows.TicketChanges(assignee=cast.alice),
        )
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.acme_user, body="Any news?")
    run_events(cast.acme, ticket)
    assert kinds(cast.bob, ticket) == ["ticket_created", "ticket_reply"]
    assert kinds(cast.alice, ticket)[-1] == "ticket_reply"


# --- rules ---------------------------------------------------------------------------------------


def test_a_rule_routes_an_sla_breach_to_a_named_person(cast: Cast, clock: Any) -> None:
    created = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    clock(created)
    quick = SlaPolicy.objects.create(
        name="Quick", targets={**STANDARD_TARGETS, "P3": {"first_response": 10, "resolution": 100}}
    )
    answer = api_for(cast.alice).post(
        rules_url(),
        {"event": "sla_breach", "recipients": [{"user": cast.acme_admin.pk}], "channels": ["email"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    rule = answer.json()
    assert rule["recipients"] == [{"user": cast.acme_admin.pk}] and rule["source"] == "customer"
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme,
            by=cast.bob,
            new=workflows.NewTicket(subject="Payroll down", sla_policy=quick, assignee=cast.bob),
        )
    clock(created + timedelta(minutes=11))
    sla_sweep()
    # the breach goes where Acme's rule says, by email only; the warning as by default
    assert kinds(cast.acme_admin, ticket) == ["sla_breach"]
    assert not Notification.objects.shown().filter(user=cast.acme_admin).exists()
    (breach,) = mails_to("admin@acme.test")
    assert "SLA breached (first response)" in breach.body
    assert kinds(cast.bob, ticket) == ["sla_warning"]
    sla_sweep()  # nothing twice
    assert len(mails_to("admin@acme.test")) == 1
    with customer_schema(cast.acme):  # a customer's rule is written in its own audit trail
        entry = AuditEntry.objects.get(content_type__model="notificationrule", object_pk=str(rule["id"]))
    assert entry.actor_id == cast.alice.pk and entry.channel == "api"


def test_a_named_recipient_must_be_allowed_to_see_the_customer(cast: Cast) -> None:
    admin = api_for(cast.alice)
    body = {"event": "resolved", "recipients": [{"user": cast.globex_user.pk}], "channels": ["in_app"]}
    refused = admin.post(rules_url(), body, format="json")
    assert refused.status_code == 400
    assert "recipients" in refused.content.decode() and str(cast.globex_user.pk) in refused.content.decode()
    assert not NotificationRule.objects.exists()
    # provider-wide rules name provider staff only
    assert admin.post("/api/v1/notification-rules/", body, format="json").status_code == 400
    for wrong in (
        {**body, "recipients": [{"role": "requester", "user": cast.bob.pk}]},
        {**body, "recipients": [{"role": "janitor"}]},
        {**body, "channels": ["pigeon"]},
        {**body, "event": "lunch"},
        {**body, "recipients": []},
    ):
        assert admin.post(rules_url(), wrong, format="json").status_code == 400, wrong
    assert not NotificationRule.objects.exists()


def test_a_customers_rules_replace_the_provider_wide_ones_for_their_event(cast: Cast) -> None:
    admin = api_for(cast.alice)
    made = admin.post(
        "/api/v1/notification-rules/",
        {"event": "resolved", "recipients": [{"role": "provider_admins"}], "channels": ["in_app"]},
        format="json",
    )
    assert made.status_code == 201
    listed = admin.get("/api/v1/notification-rules/").json()["results"]
    resolved = [rule for rule in listed if rule["event"] == "resolved"]
    assert [(rule["source"], rule["inherited"]) for rule in resolved] == [("provider", False)]
    created = [rule for rule in listed if rule["event"] == "ticket_created"]
    assert created and all(rule["default"] and rule["inherited"] for rule in created)
    # Acme inherits the provider-wide rule until it has its own
    acme = admin.get(rules_url()).json()["results"]
    assert [rule["source"] for rule in acme if rule["event"] == "resolved"] == ["provider"]
    ticket = open_ticket(cast)
    with customer_schema(cast.acme):
        workflows.ticket_update(
            customer=cast.acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(status="resolved")
        )
    run_events(cast.acme, ticket)
    assert kinds(cast.alice, ticket) == ["ticket_resolved"] and kinds(cast.acme_user, ticket) == [
        "ticket_created"
    ]
    # the rule's row is changed and deleted through the API, each write audited
    rule_id = made.json()["id"]
    assert (
        admin.patch(f"/api/v1/notification-rules/{rule_id}/", {"enabled": False}, format="json").json()[
            "enabled"
        ]
        is False
    )
    assert admin.delete(f"/api/v1/notification-rules/{rule_id}/").status_code == 204
    assert (
        AuditEntry.objects.filter(content_type__model="notificationrule", object_pk=str(rule_id)).count() == 3
    )


def test_the_rules_list_carries_the_keys_of_a_rules_detail(cast: Cast) -> None:
    admin = api_for(cast.alice)
    body = {"event": "resolved", "recipients": [{"role": "assignee"}], "channels": ["email"]}
    made = admin.post(rules_url(), body, format="json")
    provider = admin.post("/api/v1/notification-rules/", {**body, "event": "assigned"}, format="json")
    assert made.status_code == provider.status_code == 201
    detail = admin.get(f"{rules_url()}{made.json()['id']}/").json()
    listed = admin.get(rules_url()).json()["results"]
    assert all(set(item) == {*detail, "inherited"} for item in listed), listed[0]
    (own,) = (item for item in listed if item["id"] == detail["id"])
    assert own == {**detail, "inherited": False} and own["customer"] == "acme"
    (inherited,) = (item for item in listed if item["event"] == "assigned")
    assert inherited["id"] == provider.json()["id"] and inherited["customer"] is None
    assert inherited["source"] == "provider" and inherited["created_at"] == provider.json()["created_at"]
    default = next(item for item in listed if item["default"])
    assert (default["id"], default["customer"], default["created_at"], default["updated_at"]) == (None,) * 4


def test_preview_says_who_would_be_notified(cast: Cast) -> None:
    ticket = open_ticket(cast)
    with customer_schema(cast.acme):
        collaborators.grant(ticket, cast.acme_user2)
    admin = api_for(cast.alice)
    answer = admin.get(f"{rules_url()}preview/?ticket={ticket.pk}")
    assert answer.status_code == 200, answer.content
    events = {item["event"]: item for item in answer.json()["events"]}

    def told(event: str) -> dict[str, list[str]]:
        return {one["email"]: one["channels"] for one in events[event]["recipients"]}

    assert told("ticket_created") == {
        "user@acme.test": ["email", "in_app"],
        "bob@msp.test": ["email", "in_app"],
    }
    assert set(told("agent_replied")) == {"user@acme.test", "user2@acme.test"}
    assert set(told("sla_breach")) == {"alice@msp.test"}  # unassigned: the provider admins
    assert set(told("prepaid_low")) == {"alice@msp.test", "admin@acme.test"}
    assert events["report_issued"]["source"] == "default"
    # a bad or foreign ticket
    assert admin.get(f"{rules_url()}preview/").status_code == 400
    assert admin.get(f"{rules_url()}preview/?ticket=abc").status_code == 400
    assert admin.get(f"{rules_url()}preview/?ticket=999999").status_code == 404
    assert admin.get(f"{rules_url('globex')}preview/?ticket={ticket.pk}").status_code in (404, 200)


def test_outsiders_cannot_read_another_customers_rules(cast: Cast) -> None:
    rule = NotificationRule.objects.create(
        customer=cast.acme, event="resolved", recipients=[{"role": "requester"}], channels=["email"]
    )
    for outsider in (cast.globex_admin, cast.globex_user, cast.charlie, cast.acme_user):
        client = api_for(outsider)
        assert client.get(rules_url()).status_code == 404, outsider
        assert client.get(f"{rules_url()}{rule.pk}/").status_code == 404, outsider
        assert client.get(f"{rules_url()}preview/?ticket=1").status_code == 404, outsider
    # Acme's member agent sees the customer, but rules are for provider admins
    assert api_for(cast.bob).get(rules_url()).status_code == 403
    assert api_for(cast.alice).get(f"{rules_url('globex')}{rule.pk}/").status_code == 404
    assert api_for(cast.alice).get(f"{rules_url()}{2**70}/").status_code == 404


# --- quiet hours, P1, mutes -----------------------------------------------------------------------


def quiet(user: User, zone: str, start: time, end: time) -> None:
    User.objects.filter(pk=user.pk).update(timezone=zone)
    user.refresh_from_db()
    preference_set(user=user, quiet=(start, end))


def test_quiet_hours_hold_a_p3_update_and_release_one_digest_at_their_end(cast: Cast, clock: Any) -> None:
    clock(EVENING - timedelta(hours=9))
    ticket = open_ticket(cast, subject="Slow VPN")  # P3
    with customer_schema(cast.acme):
        collaborators.grant(ticket, cast.acme_user2)
    # the requester in Berlin, quiet 22:00-07:00 (ends 06:00 UTC); the collaborator in New York,
    # quiet 16:00-18:00 (ends 23:00 UTC)
    quiet(cast.acme_user, "Europe/Berlin", time(22, 0), time(7, 0))
    quiet(cast.acme_user2, "America/New_York", time(16, 0), time(18, 0))
    clock(EVENING)
    sent = len(mail.outbox)
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Rebooted the gateway")
        workflows.ticket_update(
            customer=cast.acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(status="pending")
        )
    run_events(cast.acme, ticket)
    # held: in the feed at once, no email
    for user in (cast.acme_user, cast.acme_user2):
        assert kinds(user, ticket)[-2:] == ["ticket_reply", "ticket_updated"]
        assert (
            Notification.objects.shown()
            .filter(user=user, ticket_id=ticket.pk, held_until__isnull=False)
            .count()
            == 2
        )
    assert len(mail.outbox) == sent
    clock(datetime(2026, 12, 8, 22, 59, tzinfo=UTC))
    assert digests_send() == 0
    clock(datetime(2026, 12, 8, 23, 0, tzinfo=UTC))  # 18:00 in New York
    assert digests_send() == 1
    (digest,) = mails_to("user2@acme.test")[-1:]
    assert "2 notifications" in digest.subject
    assert "Rebooted the gateway" not in digest.body and "Slow VPN" in digest.body
    assert digest.body.count("Open it:") == 2
    assert digests_send() == 0  # nothing twice
    assert not mails_to("user@acme.test")[1:]  # only the receipt of the morning so far
    clock(datetime(2026, 12, 9, 6, 0, tzinfo=UTC))  # 07:00 in Berlin
    assert digests_send() == 1
    assert len(mails_to("user@acme.test")) == 2 and "2 notifications" in mail.outbox[-1].subject
    assert digests_send() == 0
    held = Notification.objects.filter(ticket_id=ticket.pk, held_until__isnull=False)
    assert held.count() == 4 and not held.filter(emailed_at__isnull=True).exists()


class RefusingSink:
    """A real SMTP server (aiosmtpd) that refuses the addresses in ``refused`` at RCPT and keeps
    every message it accepts, by recipient."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.accepted: list[str] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[RefusingSink]:
    """Mail goes over SMTP to a ``RefusingSink`` of this test's own."""
    sink = RefusingSink()
    server = Controller(sink, hostname="127.0.0.1", port=free_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    server.stop()


def test_a_digest_refused_for_one_person_is_retried_alone(
    cast: Cast, clock: Any, smtp_sink: RefusingSink
) -> None:
    clock(EVENING - timedelta(hours=9))
    ticket = open_ticket(cast, subject="Slow VPN")  # P3
    with customer_schema(cast.acme):
        collaborators.grant(ticket, cast.acme_user2)
    for user in (cast.acme_user, cast.acme_user2):  # both quiet 22:00-07:00 in Berlin
        quiet(user, "Europe/Berlin", time(22, 0), time(7, 0))
    clock(EVENING)
    smtp_sink.accepted.clear()  # the mail of the day
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Rebooted the gateway")
    run_events(cast.acme, ticket)
    held = Notification.objects.filter(ticket_id=ticket.pk, held_until__isnull=False)
    assert held.count() == 2 and smtp_sink.accepted == []
    clock(datetime(2026, 12, 9, 6, 0, tzinfo=UTC))  # 07:00 in Berlin
    smtp_sink.refused = {"user@acme.test"}
    # the requester's server refuses it: their digest stays held, the collaborator's goes out
    assert digests_send() == 1
    assert smtp_sink.accepted == ["user2@acme.test"]
    assert list(held.filter(emailed_at__isnull=True).values_list("user_id", flat=True)) == [cast.acme_user.pk]
    # the next run sends the requester's digest, and the collaborator's not again
    smtp_sink.refused = set()
    assert digests_send() == 1
    assert smtp_sink.accepted == ["user2@acme.test", "user@acme.test"]
    assert digests_send() == 0
    assert not held.filter(emailed_at__isnull=True).exists()


def test_a_p1_goes_through_quiet_hours(cast: Cast, clock: Any) -> None:
    clock(EVENING - timedelta(hours=1))
    ticket = open_ticket(cast, subject="Everything is down", priority="P1")
    quiet(cast.acme_user, "Europe/Berlin", time(22, 0), time(7, 0))
    clock(EVENING)
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="On it")
    run_events(cast.acme, ticket)
    assert "On it" in mails_to("user@acme.test")[-1].body
    assert not Notification.objects.filter(user=cast.acme_user, held_until__isnull=False).exists()


def test_a_muted_event_is_not_sent(cast: Cast) -> None:
    client = api_for(cast.acme_user)
    answer = client.patch(
        "/api/v1/me/notification-preferences/", {"muted": {"agent_replied": ["email"]}}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["muted"] == {"agent_replied": ["email"]}
    ticket = open_ticket(cast)
    sent = len(mails_to("user@acme.test"))
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Try again")
    run_events(cast.acme, ticket)
    assert kinds(cast.acme_user, ticket)[-1] == "ticket_reply"  # in the feed
    assert len(mails_to("user@acme.test")) == sent  # but not emailed
    # both channels muted: nothing at all
    client.patch(
        "/api/v1/me/notification-preferences/",
        {"muted": {"agent_replied": ["email", "in_app"]}},
        format="json",
    )
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="And again")
    run_events(cast.acme, ticket)
    assert kinds(cast.acme_user, ticket).count("ticket_reply") == 1
    # what the rules make unmutable cannot be muted, and bad input names its field
    refused = client.patch(
        "/api/v1/me/notification-preferences/", {"muted": {"sla_breach": ["email"]}}, format="json"
    )
    assert refused.status_code == 400 and "muted" in refused.content.decode()
    assert (
        client.patch(
            "/api/v1/me/notification-preferences/", {"muted": {"lunch": ["email"]}}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.patch(
            "/api/v1/me/notification-preferences/", {"quiet_from": "22:00"}, format="json"
        ).status_code
        == 400
    )
    good = client.patch(
        "/api/v1/me/notification-preferences/", {"quiet_from": "22:00", "quiet_to": "07:00"}, format="json"
    )
    assert good.status_code == 200 and good.json()["quiet_to"] == "07:00:00"
    assert good.json()["muted"] == {"agent_replied": ["email", "in_app"]}


def test_an_issued_report_tells_the_customer_admins(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    at = time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False)
    with at, django_capture_on_commit_callbacks(execute=True):
        issued = report_issue(customer=cast.acme, month=date(2026, 11, 1), by=cast.alice)
    (notice,) = Notification.objects.filter(kind="report_issued")
    assert notice.user == cast.acme_admin and f"version {issued.version}" in notice.title
    assert notice.url == "http://acme.localhost:8000/reports/2026-11/"
    assert "service report for 2026-11 issued" in mails_to("admin@acme.test")[-1].subject
    assert not Notification.objects.filter(user=cast.alice, kind="report_issued").exists()
