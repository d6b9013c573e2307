"""The service desk end to end in real Chromium: portal → unified queue → reply and note →
portal again, with the worker delivering notifications, and outsiders seeing nothing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from notifications.models import Notification
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import customer_person, sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tests.support.processes import wait_for
from tickets import workflows

pytestmark = [pytest.mark.browser, pytest.mark.worker]


@dataclass(frozen=True)
class World:
    home: Customer
    other: Customer
    requester: User
    member_agent: User
    outsider_agent: User
    other_user: User


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server and the worker are other processes)."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        home = customer_provision(name=f"Home {tag}", slug=f"home-{tag}")
        other = customer_provision(name=f"Other {tag}", slug=f"other-{tag}")
        world = World(
            home=home,
            other=other,
            requester=customer_person(home, f"dana@home-{tag}.test"),
            member_agent=agent_create(
                fields=AgentFields(email=f"mia-{tag}@msp.test", name="Mia Member", customers=(home,)),
                password=PASSWORD,
            ),
            outsider_agent=agent_create(
                fields=AgentFields(email=f"otto-{tag}@msp.test", name="Otto Outsider", customers=(other,)),
                password=PASSWORD,
            ),
            other_user=customer_person(other, f"olga@other-{tag}.test"),
        )
        # The other customer has tickets with the same ids (owned by someone else there).
        owner = customer_person(other, f"owner@other-{tag}.test")
        with customer_schema(other):
            for n in range(3):
                workflows.ticket_create(
                    customer=other, by=owner, new=workflows.NewTicket(subject=f"Other's {n}")
                )
    return world


def test_ticket_from_portal_to_queue_and_back(
    browser: Browser, live_url: str, worker_queue: str, world: World, django_db_blocker: Any, tmp_path: Path
) -> None:
    port = live_url.rsplit(":", 1)[1]
    portal = f"http://{world.home.slug}.localhost:{port}"
    other_portal = f"http://{world.other.slug}.localhost:{port}"
    screenshot = tmp_path / "screen.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n fake screenshot")

    # 1. The customer submits a ticket with an attachment in the portal (on a phone).
    customer_ctx = browser.new_context(viewport={"width": 390, "height": 844})
    customer = customer_ctx.new_page()
    sign_in(customer, portal, world.requester.email)
    customer.goto(f"{portal}/tickets/new/")
    customer.fill("#subject", "Outlook keeps crashing")
    customer.fill("#description", "Since this morning, every time I open it.")
    customer.select_option("#priority", "P2")
    customer.set_input_files("#attachments", str(screenshot))
    customer.click("main button[type=submit]")
    customer.wait_for_selector("text=we received your request")
    ticket_path = re.sub(r"^https?://[^/]+", "", customer.url)
    ticket_id = int(ticket_path.strip("/").split("/")[-1])
    number = customer.inner_text("h1").split(" · ")[0]
    assert "screen.png" in customer.inner_text("#thread")

    # 2. A member agent sees it at the top of the unified queue.
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    agent = agent_ctx.new_page()
    sign_in(agent, live_url, world.member_agent.email)
    agent.wait_for_selector("#queue-table")
    first_row = agent.locator("#queue-table tbody tr").first
    assert first_row.get_attribute("data-ticket") == number
    # Filters update the table in place (HTMX), without reloading the page.
    agent.evaluate("window.__stayed = true")
    agent.select_option("select[name=priority]", "P1")
    agent.wait_for_selector("text=No tickets match these filters.")
    agent.select_option("select[name=priority]", "P2")
    agent.wait_for_selector(f"tr[data-ticket='{number}']")
    assert agent.evaluate("window.__stayed") is True and "priority=P2" in agent.url
    agent.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)

    # ...replies publicly, adds a private note and takes the ticket.
    agent.click(f"tr[data-ticket='{number}'] a")
    agent.wait_for_selector(f"h1:has-text('{number}')")
    agent.fill("#body", "Please try starting it in safe mode: outlook.exe /safe")
    agent.click("form[action$='/reply/'] button[type=submit]")
    agent.wait_for_selector("text=Reply sent.")
    agent.fill("#body", "Probably the broken add-in from last week's rollout")
    agent.check("input[name=visibility][value=private]")
    agent.click("form[action$='/reply/'] button[type=submit]")
    agent.wait_for_selector("text=Note added.")
    # The public reply took the unassigned ticket (issue 15): the panel shows the agent.
    assert agent.input_value("#assignee") == str(world.member_agent.pk)
    agent.select_option("#priority", "P1")
    agent.click("#ticket-panel button[type=submit]")
    agent.wait_for_selector("#ticket-panel >> text=Ticket updated.")
    agent.screenshot(path=str(ARTIFACTS / "console-ticket.png"), full_page=True)

    # 3. The customer sees the reply and not the note.
    customer.goto(f"{portal}{ticket_path}")
    thread = customer.inner_text("#thread")
    assert "safe mode" in thread and "add-in" not in thread and "Private note" not in thread
    customer.screenshot(path=str(ARTIFACTS / "portal-ticket.png"), full_page=True)

    # The worker told the customer (email + bell) after commit.
    with django_db_blocker.unblock():
        wait_for(lambda: Notification.objects.filter(user=world.requester, kind="ticket_reply").exists())
        wait_for(lambda: Notification.objects.filter(user=world.requester, kind="ticket_updated").exists())
    customer.goto(f"{portal}/")
    assert customer.locator(".bell .count").inner_text() == "3"  # created, reply, priority raised

    # 4. A user of another customer: 404 for that ticket's id on their own portal (the id exists
    #    there, as someone else's ticket), and the ticket's own URL only offers a sign-in.
    outsider_ctx = browser.new_context()
    outsider = outsider_ctx.new_page()
    sign_in(outsider, other_portal, world.other_user.email)
    response = outsider.goto(f"{other_portal}{ticket_path}")
    assert response is not None and response.status == 404
    assert "Outlook" not in outsider.content()
    outsider.goto(f"{portal}{ticket_path}")
    assert "/login/" in outsider.url and "Outlook" not in outsider.content()

    # 5. A non-member agent does not see it in the queue, nor by its URL.
    outsider_agent = outsider_ctx.new_page()
    sign_in(outsider_agent, live_url, world.outsider_agent.email)
    outsider_agent.goto(f"{live_url}/?status=open,pending,resolved,closed")
    assert number not in outsider_agent.inner_text("#queue")
    response = outsider_agent.goto(f"{live_url}/customers/{world.home.slug}/tickets/{ticket_id}/")
    assert response is not None and response.status == 404
    for ctx in (customer_ctx, agent_ctx, outsider_ctx):
        ctx.close()
