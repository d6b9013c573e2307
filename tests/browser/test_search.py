"""Search from the console header in real Chromium, on a desktop and a phone: a reference jumps
straight to the ticket; words show ranked hits with highlighted snippets that lead to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, ViewportSize

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tickets import workflows
from tickets.index.services import display_number
from tickets.models import Ticket

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Desk:
    customer: Customer
    agent: User
    ticket: Ticket
    reference: str
    word: str


@pytest.fixture(scope="module")
def desk(django_db_blocker: Any, django_db_setup: None) -> Desk:
    """Committed data of its own (the server is another process)."""
    tag = uuid.uuid4().hex[:6]
    word = f"flamingo{tag}"
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Search {tag}", slug=f"search-{tag}")
        agent = agent_create(
            fields=AgentFields(email=f"sam-{tag}@msp.test", name="Sam Search", customers=(customer,)),
            password=PASSWORD,
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"rita@search-{tag}.test", name="Rita"),
                password=PASSWORD,
            ).user
            ticket = workflows.ticket_create(
                customer=customer, by=requester, new=workflows.NewTicket(subject="Scanner offline")
            )
            workflows.comment_add(
                customer=customer, ticket=ticket, by=requester, body=f"The {word} scanner on floor 2 is dead"
            )
        reference = display_number(customer, ticket.number)
    return Desk(customer=customer, agent=agent, ticket=ticket, reference=reference, word=word)


@pytest.mark.parametrize(
    "viewport",
    [ViewportSize(width=1280, height=900), ViewportSize(width=375, height=740)],
    ids=["desktop", "phone"],
)
def test_search_from_the_console_header_jumps_to_the_ticket(
    browser: Browser, live_url: str, desk: Desk, viewport: ViewportSize
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, live_url, desk.agent.email)
    ticket_path = f"/customers/{desk.customer.slug}/tickets/{desk.ticket.pk}/"

    box = page.locator("header [data-shortcut=search]")
    assert box.is_visible()
    box_right = page.evaluate(
        "document.querySelector('header [data-shortcut=search]').getBoundingClientRect().right"
    )
    assert box_right <= viewport["width"]  # the box fits the screen
    box.fill(desk.reference.lower())
    box.press("Enter")
    page.wait_for_url(f"**{ticket_path}")
    page.wait_for_selector(f"h1:has-text('{desk.reference}')")

    box = page.locator("header [data-shortcut=search]")
    box.fill(desk.word[:-3])  # a prefix of the word
    box.press("Enter")
    page.wait_for_url("**/search/?q=*")
    hit = page.locator(".search-hits li").first
    assert hit.locator("mark").first.inner_text().lower() == desk.word
    assert desk.reference in hit.inner_text()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    hit.locator("a.hit-title").click()
    page.wait_for_url(f"**{ticket_path}")
    context.close()
