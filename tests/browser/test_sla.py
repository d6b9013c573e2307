"""SLA in real Chromium: an agent sees the countdown in the unified queue, opens the ticket and
reads why its SLA applies; a priority change in the side panel (HTMX) brings the new due time
into the SLA card without a reload."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from sla.models import SlaPolicy
from sla.templatetags.sla_tags import iso_utc
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tickets import workflows
from tickets.index.services import display_number
from tickets.models import Ticket

pytestmark = [pytest.mark.browser]


@dataclass(frozen=True)
class World:
    customer: Customer
    agent: User
    ticket: Ticket
    number: str


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server is another process)."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Sla {tag}", slug=f"sla-{tag}")
        agent = agent_create(
            fields=AgentFields(
                email=f"sam-{tag}@msp.test", name="Sam Agent", customers=(customer,), timezone="Asia/Tokyo"
            ),
            password=PASSWORD,
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"rita@sla-{tag}.test", name="Rita Requester"),
                password=PASSWORD,
            ).user
            ticket = workflows.ticket_create(
                customer=customer,
                by=requester,
                new=workflows.NewTicket(subject="VPN drops every hour", priority="P3"),
            )
        number = display_number(customer, ticket.number)
    return World(customer=customer, agent=agent, ticket=ticket, number=number)


def test_agent_sees_the_countdown_and_why_this_sla(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock():
        default = SlaPolicy.objects.get(is_default=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_url, world.agent.email)

    # The queue: a countdown to the resolution due time, the instant (UTC) in its title.
    page.wait_for_selector("#queue-table")
    cell = page.locator(f"tr[data-ticket='{world.number}'] td.sla")
    assert re.match(r"due in (\d+ d )?\d+ h", cell.inner_text())
    assert world.ticket.resolution_due is not None and world.ticket.first_response_due is not None
    iso = iso_utc(min(world.ticket.resolution_due, world.ticket.first_response_due))  # the one due first
    assert str(cell.locator("time").get_attribute("title")).endswith(f"due {iso}")
    assert page.locator("select[name=ordering]").input_value() == "next_due"
    page.screenshot(path=str(ARTIFACTS / "console-sla-queue.png"), full_page=True)

    # The ticket page: which policy, why (the deciding level marked), both clocks.
    page.click(f"tr[data-ticket='{world.number}'] a")
    page.wait_for_selector("#ticket-sla")
    card = page.locator("#ticket-sla")
    assert f"SLA · {default.name}" in card.locator("h2").inner_text()
    assert "Why this SLA" in card.inner_text()
    chain = card.locator("ol.sla-chain li")
    assert chain.count() == 7  # ticket, requester, CI, request type, contract, customer, provider
    decides = card.locator("ol.sla-chain li.decides")
    assert decides.get_attribute("data-source") == "default"
    assert f"provider default '{default.name}'" in decides.inner_text()
    assert "running" in card.locator("table.sla-segments tbody").inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-sla.png"), full_page=True)

    # A priority change in the side panel (HTMX) brings the new due time into the card.
    page.evaluate("window.__stayed = true")
    page.select_option("#priority", "P1")
    page.click("#ticket-panel button[type=submit]")
    page.wait_for_selector("#ticket-panel >> text=Ticket updated.")
    with django_db_blocker.unblock(), customer_schema(world.customer):
        moved = Ticket.objects.get(pk=world.ticket.pk).resolution_due
    assert moved is not None and moved < world.ticket.resolution_due
    moved_iso = iso_utc(moved)
    page.wait_for_selector(f"#ticket-sla tr[data-clock='resolution'] time[datetime='{moved_iso}']")
    assert page.evaluate("window.__stayed") is True
    context.close()
