"""Request types in real Chromium (issue 19): a provider admin builds a type with two custom
fields for one customer in the console; that customer's portal user picks it and fills it in; a
portal user of another customer sees the general form; the agent filters the queue by the custom
field."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import customer_person, sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tickets import workflows
from tickets.models import Ticket

pytestmark = [pytest.mark.browser]


@dataclass(frozen=True)
class World:
    home: Customer
    other: Customer
    admin: User
    agent: User
    requester: User
    other_user: User


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server is another process)."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        home = customer_provision(name=f"Forms {tag}", slug=f"forms-{tag}")
        other = customer_provision(name=f"Plain {tag}", slug=f"plain-{tag}")
        world = World(
            home=home,
            other=other,
            admin=agent_create(
                fields=AgentFields(email=f"ada-{tag}@msp.test", name="Ada Admin", is_admin=True),
                password=PASSWORD,
            ),
            agent=agent_create(
                fields=AgentFields(email=f"finn-{tag}@msp.test", name="Finn Agent", customers=(home,)),
                password=PASSWORD,
            ),
            requester=customer_person(home, f"dana@forms-{tag}.test"),
            other_user=customer_person(other, f"olga@plain-{tag}.test"),
        )
        with customer_schema(home):  # a ticket without the type, which the filter leaves out
            workflows.ticket_create(
                customer=home, by=world.requester, new=workflows.NewTicket(subject="Printer jam")
            )
    return world


def test_an_admin_builds_a_type_a_customer_fills_it_and_the_queue_filters_by_it(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any
) -> None:
    port = live_url.rsplit(":", 1)[1]
    slug = world.home.slug

    # 1. The admin builds "New starter" with two custom fields for one customer.
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(admin, live_url, world.admin.email)
    admin.goto(f"{live_url}/customers/{slug}/")
    admin.click("#request-types-link")
    admin.wait_for_selector("#request-type-form")
    admin.fill("#id_name", "New starter")
    admin.fill("#id_fields-0-key", "cost_centre")
    admin.fill("#id_fields-0-label", "Cost centre")
    admin.check("#id_fields-0-required")
    admin.fill("#id_fields-1-key", "laptop")
    admin.fill("#id_fields-1-label", "Laptop")
    admin.select_option("#id_fields-1-kind", "choice")
    admin.fill("#id_fields-1-choices", "Mac\nWindows")
    admin.click("#request-type-form button[type=submit]")
    admin.wait_for_selector("text=Request type New starter added.")
    assert "Cost centre *" in admin.inner_text("#request-types") and "Laptop" in admin.inner_text(
        "#request-types"
    )
    admin.screenshot(path=str(ARTIFACTS / "console-request-types.png"), full_page=True)

    # 2. A portal user of that customer picks the type, then fills its form.
    customer = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    portal = f"http://{slug}.localhost:{port}"
    sign_in(customer, portal, world.requester.email)
    customer.goto(f"{portal}/tickets/new/")
    assert customer.locator("#type-fields").count() == 0
    customer.select_option("#type", label="New starter")
    customer.click("#type-continue")
    customer.wait_for_selector("#type-fields")
    customer.fill("#subject", "Welcome Dana")
    customer.select_option("#field-laptop", "Mac")
    customer.click("#ticket-form button[type=submit]")  # the cost centre is required
    customer.wait_for_selector("#field-cost_centre-errors")
    assert "Cost centre: this field is required." in customer.inner_text("#field-cost_centre-errors")
    customer.fill("#field-cost_centre", "CC-42")
    customer.click("#ticket-form button[type=submit]")
    customer.wait_for_selector("text=we received your request")
    number = customer.inner_text("h1").split(" · ")[0]
    assert "CC-42" in customer.inner_text("#ticket-field-values")
    customer.screenshot(path=str(ARTIFACTS / "portal-request-type.png"), full_page=True)

    # 3. A portal user of another customer sees the general form: no type step.
    other = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    other_portal = f"http://{world.other.slug}.localhost:{port}"
    sign_in(other, other_portal, world.other_user.email)
    other.goto(f"{other_portal}/tickets/new/")
    other.wait_for_selector("#subject")
    assert other.locator("#type-step").count() == 0 and other.locator("#type-fields").count() == 0

    # 4. The agent filters the queue by the custom field, in place.
    agent = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(agent, live_url, world.agent.email)
    agent.wait_for_selector("#queue-table")
    assert agent.locator("#queue-table tbody tr").count() == 2
    agent.fill("#filter-field", "laptop:Mac")
    agent.press("#filter-field", "Enter")
    agent.wait_for_selector("#queue-table tr:has-text('Printer jam')", state="detached")
    assert agent.locator(f"tr[data-ticket='{number}']").count() == 1 and "field=laptop" in agent.url
    agent.fill("#filter-field", "laptop:Windows")
    agent.press("#filter-field", "Enter")
    agent.wait_for_selector("text=No tickets match these filters.")
    agent.screenshot(path=str(ARTIFACTS / "console-queue-custom-field.png"), full_page=True)
    with django_db_blocker.unblock(), customer_schema(world.home):
        filed = Ticket.objects.get(subject="Welcome Dana")
    assert filed.fields == {"cost_centre": "CC-42", "laptop": "Mac"}
