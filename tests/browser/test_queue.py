"""The queue in real Chromium, at desktop and phone size: a row turns amber at its warning
instant and red at its due instant without a reload (the live region's ETag expires then); a
bulk assign of three tickets where one refuses reports each outcome; a saved view survives
signing out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from sla.engine.keeping import SLA_FIELDS, sla_compute, timers_write
from sla.models import SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_provision, customer_update
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tickets import workflows
from tickets.index.services import display_number, index_write
from tickets.models import Ticket

pytestmark = [pytest.mark.browser]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}


@dataclass(frozen=True)
class World:
    customer: Customer
    agent: User
    requester: User


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Queue {tag}", slug=f"queue-{tag}")
        # minute targets: a P1's first response warns after 48 s and is due after 60 s
        policy = SlaPolicy.objects.create(
            name=f"Minutes {tag}",
            targets={
                p: {"first_response": 1 if p == "P1" else 600, "resolution": 900}
                for p in ("P1", "P2", "P3", "P4")
            },
            warning_percent=80,
        )
        customer_update(customer=customer, changes=CustomerChanges(default_sla=policy))
        agent = agent_create(
            fields=AgentFields(email=f"quinn-{tag}@msp.test", name="Quinn Agent", customers=(customer,)),
            password=PASSWORD,
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"rae@queue-{tag}.test", name="Rae Requester"),
                password=PASSWORD,
            ).user
    return World(customer=customer, agent=agent, requester=requester)


def open_ticket(world: World, subject: str, **kw: Any) -> tuple[Ticket, str]:
    with job_context("tests.browser"), customer_schema(world.customer):
        ticket = workflows.ticket_create(
            customer=world.customer, by=world.requester, new=workflows.NewTicket(subject=subject, **kw)
        )
    return ticket, display_number(world.customer, ticket.number)


def opened_earlier(world: World, ticket: Ticket, seconds: int) -> None:
    """Move the ticket's opening ``seconds`` back, then keep its SLA, timers and index row as a
    workflow does (the engine's own code, in one transaction)."""
    from django.db import transaction

    with job_context("tests.browser"), customer_schema(world.customer), transaction.atomic():
        ticket = Ticket.objects.select_for_update().select_related("requester_user").get(pk=ticket.pk)
        start = ticket.created_at - timedelta(seconds=seconds)
        ticket.created_at = ticket.updated_at = start
        ticket.sla_segments = [{**ticket.sla_segments[0], "start": start.isoformat()}]
        clocks = sla_compute(ticket, timezone.now())
        ticket.save(update_fields=["created_at", "updated_at", *SLA_FIELDS])
        timers_write(customer=world.customer, ticket=ticket, views=clocks)
        index_write(customer=world.customer, tickets=[ticket], clocks={ticket.pk: clocks})


def signed_in(browser: Browser, live_url: str, world: World, size: str) -> tuple[Any, Page]:
    context = browser.new_context(viewport=SIZES[size])  # type: ignore[arg-type]
    page = context.new_page()
    sign_in(page, live_url, world.agent.email)
    return context, page


@pytest.mark.parametrize("size", SIZES)
def test_a_row_turns_amber_then_red_without_a_reload(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, size: str
) -> None:
    with django_db_blocker.unblock():
        ticket, number = open_ticket(world, f"Mail server down ({size})", priority="P1")
        opened_earlier(world, ticket, seconds=38)  # warns in about 10 s, due in about 22 s
    context, page = signed_in(browser, live_url, world, size)
    page.goto(f"{live_url}/?customer={world.customer.slug}")
    row = f"#queue tr[data-ticket='{number}']"
    page.wait_for_selector(f"{row}[data-sla-state='on_track']")
    page.evaluate("window.__stayed = true")
    page.wait_for_selector(f"{row}[data-sla-state='warning']", timeout=30_000)
    amber = page.locator(f"{row} td.sla").evaluate("cell => getComputedStyle(cell).backgroundColor")
    page.screenshot(path=str(ARTIFACTS / f"queue-amber-{size}.png"), full_page=True)
    page.wait_for_selector(f"{row}[data-sla-state='breached']", timeout=30_000)
    red = page.locator(f"{row} td.sla").evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert amber == "rgb(255, 244, 229)" and red == "rgb(253, 236, 236)"
    assert "overdue" in page.locator(f"{row} td.sla").inner_text()
    assert page.evaluate("window.__stayed") is True  # never reloaded
    page.screenshot(path=str(ARTIFACTS / f"queue-red-{size}.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_bulk_assign_of_three_reports_each_outcome(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, size: str
) -> None:
    with django_db_blocker.unblock():
        first, first_number = open_ticket(world, f"Bulk one ({size})")
        second, second_number = open_ticket(world, f"Bulk two ({size})")
        done, done_number = open_ticket(world, f"Bulk closed ({size})")
        with job_context("tests.browser"), customer_schema(world.customer):
            for status in ("resolved", "closed"):
                workflows.ticket_transition(
                    customer=world.customer, ticket=done, by=world.agent, status=status
                )
    context, page = signed_in(browser, live_url, world, size)
    page.goto(
        f"{live_url}/?customer={world.customer.slug}&status=open,pending,resolved,closed&ordering=-created_at"
    )
    for ticket in (first, second, done):
        page.check(f"input[name=ticket][value='{world.customer.slug}:{ticket.pk}']")
    page.select_option("#bulk select[name=assign]", "me")
    page.click("#bulk button[value=assign]")
    page.wait_for_selector("ul.messages")
    said = page.locator("ul.messages").inner_text()
    assert f"{first_number}: changed" in said and f"{second_number}: changed" in said
    assert f"{done_number}: A closed ticket cannot be changed." in said
    page.screenshot(path=str(ARTIFACTS / f"queue-bulk-{size}.png"), full_page=True)
    with django_db_blocker.unblock(), customer_schema(world.customer):
        assignees = dict(
            Ticket.objects.filter(pk__in=[first.pk, second.pk, done.pk]).values_list("pk", "assignee_id")
        )
    assert assignees == {first.pk: world.agent.pk, second.pk: world.agent.pk, done.pk: None}
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_saved_view_survives_signing_out(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, size: str
) -> None:
    context, page = signed_in(browser, live_url, world, size)
    page.wait_for_selector("#queue-tabs")
    page.select_option("form.filters select[name=priority]", "P1")
    page.wait_for_selector("#queue input[name=query][value*='priority=P1']", state="attached")
    page.click("#save-view summary")
    name = f"P1 only {size}"
    page.fill("#save-view-form input[name=name]", name)
    page.click("#save-view-form button[type=submit]")
    page.wait_for_selector(f"#queue-tabs a[data-view='{name}'][aria-current=page]")
    page.click("button:has-text('Sign out')")
    page.wait_for_load_state()
    sign_in(page, live_url, world.agent.email)
    page.click(f"#queue-tabs a[data-view='{name}']")
    page.wait_for_selector(f"#queue-tabs a[data-view='{name}'][aria-current=page]")
    assert page.locator("form.filters select[name=priority]").input_value() == "P1"
    page.screenshot(path=str(ARTIFACTS / f"queue-view-{size}.png"), full_page=True)
    context.close()
