"""Working a ticket in real Chromium (issue 15): the agent picks a canned response and sends it
with "Send and set pending", the customer answers in the portal, the agent sends and resolves,
the customer rates the ticket from the portal; then a duplicate is merged and the customer sees
one ticket."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tickets.canned.models import CannedResponse, Scope, SetStatus
from tickets.models import Comment, Ticket
from tickets.satisfaction.models import Rating

pytestmark = [pytest.mark.browser]


@dataclass(frozen=True)
class World:
    customer: Customer
    requester: User
    agent: User


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server is another process)."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Work {tag}", slug=f"work-{tag}")
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"dana@work-{tag}.test", name="Dana Doe"),
                password=PASSWORD,
            ).user
        agent = agent_create(
            fields=AgentFields(email=f"mia-{tag}@msp.test", name="Mia Member", customers=(customer,)),
            password=PASSWORD,
        )
        CannedResponse.objects.create(
            name="Ask which printer",
            body="Hello {{requester}}, which printer is it (the label on its front)? {{agent}}",
            scope=Scope.PERSONAL,
            owner=agent,
            set_status=SetStatus.PENDING,
        )
    return World(customer=customer, requester=requester, agent=agent)


def _submit(page: Page, portal: str, subject: str) -> tuple[str, str]:
    """A new ticket from the portal: its path and its number."""
    page.goto(f"{portal}/tickets/new/")
    page.fill("#subject", subject)
    page.fill("#description", "It shows paper jam but there is no paper inside.")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=we received your request")
    return re.sub(r"^https?://[^/]+", "", page.url), page.inner_text("h1").split(" · ")[0]


def test_canned_reply_pending_answer_resolve_rate_and_merge(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any
) -> None:
    port = live_url.rsplit(":", 1)[1]
    portal = f"http://{world.customer.slug}.localhost:{port}"
    slug = world.customer.slug

    customer_ctx = browser.new_context(viewport={"width": 390, "height": 844})
    customer = customer_ctx.new_page()
    sign_in(customer, portal, world.requester.email)
    ticket_path, number = _submit(customer, portal, "Printer jammed")
    ticket_id = int(ticket_path.strip("/").split("/")[-1])
    duplicate_path, duplicate_number = _submit(customer, portal, "Printer still jammed")
    duplicate_id = int(duplicate_path.strip("/").split("/")[-1])

    # 1. The agent picks the canned response by typing, and sends it with "Send and set pending".
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    agent = agent_ctx.new_page()
    sign_in(agent, live_url, world.agent.email)
    agent.goto(f"{live_url}/customers/{slug}/tickets/{ticket_id}/")
    agent.fill("#canned-q", "printer")
    agent.click("#canned-options button[data-canned]")
    agent.wait_for_selector("#canned-hint:has-text('Send and set pending')")
    filled = agent.input_value("#body")
    assert filled == "Hello Dana Doe, which printer is it (the label on its front)? Mia Member"
    agent.click("form[action$='/reply/'] button[name=then][value=pending]")
    agent.wait_for_selector("text=Reply sent; the ticket is pending.")
    assert agent.inner_text("#ticket-status") == "pending"

    # 2. The customer answers in the portal: the ticket is open again.
    customer.goto(f"{portal}{ticket_path}")
    assert "which printer is it" in customer.inner_text("#thread")
    customer.fill("#body", "The one on the third floor, PRN-3.")
    customer.click("form[action$='/reply/'] button[type=submit]")
    customer.wait_for_selector("text=Your reply was sent.")

    # 3. The agent sends the fix and resolves in one action.
    agent.goto(f"{live_url}/customers/{slug}/tickets/{ticket_id}/")
    assert "PRN-3" in agent.inner_text("#thread") and agent.inner_text("#ticket-status") == "open"
    agent.fill("#body", "Replaced the fuser; it prints again.")
    agent.click("form[action$='/reply/'] button[name=then][value=resolved]")
    agent.wait_for_selector("text=Reply sent; the ticket is resolved.")

    # 4. The customer rates the ticket from the portal.
    customer.goto(f"{portal}{ticket_path}")
    customer.wait_for_selector("#ticket-rating")
    customer.check("#ticket-rating input[name=score][value=good]")
    customer.fill("#rating-comment", "Quick and friendly.")
    customer.click("#ticket-rating button[type=submit]")
    customer.wait_for_selector("text=Thank you for rating this ticket.")
    with django_db_blocker.unblock(), customer_schema(world.customer):
        rating = Rating.objects.get(ticket_id=ticket_id)
        assert rating.score == "good" and rating.rated_by_id == world.requester.pk
        assert rating.comment == "Quick and friendly." and rating.sla_met is True
    customer.screenshot(path=str(ARTIFACTS / "portal-rated.png"), full_page=True)

    # 5. The agent merges the duplicate into it; the customer sees one ticket.
    agent.goto(f"{live_url}/customers/{slug}/tickets/{duplicate_id}/")
    agent.fill("#merge-into", number)
    agent.click("#merge-form button[type=submit]")
    agent.wait_for_selector(f"text={duplicate_number} was merged into {number}.")
    assert f"/tickets/{ticket_id}/" in agent.url
    assert f"Merged from {duplicate_number}" in agent.inner_text("#thread")
    agent.screenshot(path=str(ARTIFACTS / "console-merged.png"), full_page=True)

    customer.goto(f"{portal}/?show=all")
    listed = customer.inner_text("main")
    assert number in listed and duplicate_number not in listed
    customer.goto(f"{portal}{duplicate_path}")
    assert customer.url.endswith(ticket_path)
    assert "Printer still jammed" in customer.inner_text("#thread")
    with django_db_blocker.unblock(), customer_schema(world.customer):
        assert Ticket.objects.get(pk=duplicate_id).merged_into_id == ticket_id
        assert Comment.objects.filter(ticket_id=ticket_id).count() == 3
    for ctx in (customer_ctx, agent_ctx):
        ctx.close()
