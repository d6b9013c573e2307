"""The ticket page in real Chromium, on a desktop and on a phone: others' replies and changes
appear without a reload and are announced, a stale side-panel save is refused inside the panel,
the panel's refusals stay inside it, the keyboard shortcuts, and no page overflows a phone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

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

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
LIVE = 20_000  # ms to wait for a poll (every 5 s) to bring a change


@dataclass(frozen=True)
class World:
    customer: Customer
    requester: User
    ana: User
    ben: User
    admin: User


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Live {tag}", slug=f"live-{tag}")
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"dana@live-{tag}.test", name="Dana Requester", role="admin"),
                password=PASSWORD,
            ).user
        return World(
            customer=customer,
            requester=requester,
            ana=agent_create(
                fields=AgentFields(email=f"ana-{tag}@msp.test", name="Ana Agent", customers=(customer,)),
                password=PASSWORD,
            ),
            ben=agent_create(
                fields=AgentFields(email=f"ben-{tag}@msp.test", name="Ben Agent", customers=(customer,)),
                password=PASSWORD,
            ),
            admin=agent_create(
                fields=AgentFields(email=f"root-{tag}@msp.test", name="Root Admin", is_admin=True),
                password=PASSWORD,
            ),
        )


def _ticket(world: World, django_db_blocker: Any, subject: str) -> int:
    with django_db_blocker.unblock(), job_context("tests.browser"), customer_schema(world.customer):
        ticket = workflows.ticket_create(
            customer=world.customer, by=world.requester, new=workflows.NewTicket(subject=subject)
        )
    return int(ticket.pk)


def _agent(browser: Browser, live_url: str, user: User, viewport: dict[str, int]) -> Page:
    page = browser.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
    sign_in(page, live_url, user.email)
    return page


def _portal(live_url: str, world: World) -> str:
    return f"http://{world.customer.slug}.localhost:{live_url.rsplit(':', 1)[1]}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_second_browsers_reply_appears_announced_without_a_reload(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, viewport: dict[str, int]
) -> None:
    ticket_id = _ticket(world, django_db_blocker, "Screen flickers")
    ana = _agent(browser, live_url, world.ana, viewport)
    ana.goto(f"{live_url}/customers/{world.customer.slug}/tickets/{ticket_id}/")
    ana.evaluate("window.__stayed = true")
    ana.fill("#body", "Half-typed answer")
    if viewport is PHONE:  # the status panel sits above the thread on a phone
        panel, thread = ana.locator("#ticket-panel").bounding_box(), ana.locator("#thread").bounding_box()
        assert panel and thread and panel["y"] < thread["y"]

    portal = _portal(live_url, world)
    dana = browser.new_context(viewport=PHONE).new_page()  # type: ignore[arg-type]
    sign_in(dana, portal, world.requester.email)
    dana.goto(f"{portal}/tickets/{ticket_id}/")
    dana.fill("#body", "It flickers only on battery")
    dana.click("form[action$='/reply/'] button[type=submit]")
    dana.wait_for_selector("text=Your reply was sent.")

    expect(ana.locator("#thread")).to_contain_text("It flickers only on battery", timeout=LIVE)
    expect(ana.locator("#ticket-news")).to_contain_text("Dana Requester replied")
    assert ana.evaluate("window.__stayed") is True  # no reload
    assert ana.input_value("#body") == "Half-typed answer"  # the reply box untouched

    # And the other way: Ben's reply and status change reach Dana's portal page, announced.
    ben = _agent(browser, live_url, world.ben, DESKTOP)
    ben.goto(f"{live_url}/customers/{world.customer.slug}/tickets/{ticket_id}/")
    ben.fill("#body", "Which power plan do you use?")
    ben.click("form[action$='/reply/'] button[type=submit]")
    ben.wait_for_selector("text=Reply sent.")
    expect(dana.locator("#thread")).to_contain_text("Which power plan", timeout=LIVE)
    expect(dana.locator("#ticket-news")).to_contain_text("Ben Agent replied")
    expect(ana.locator("#ticket-news")).to_contain_text("Ben Agent replied", timeout=LIVE)
    for page in (ana, ben, dana):
        page.context.close()


def test_a_stale_panel_save_is_refused_inside_the_panel(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any
) -> None:
    ticket_id = _ticket(world, django_db_blocker, "Printer offline")
    url = f"{live_url}/customers/{world.customer.slug}/tickets/{ticket_id}/"
    ana = _agent(browser, live_url, world.ana, DESKTOP)
    ana.goto(url)
    ana.select_option("#priority", "P4")  # Ana starts a change...
    ben = _agent(browser, live_url, world.ben, PHONE)
    ben.goto(url)
    ben.select_option("#priority", "P1")  # ...Ben saves his first
    ben.click("#panel-form button[type=submit]")
    ben.wait_for_selector("#ticket-panel >> text=Ticket updated.")
    # Ana hears of it while her half-made change stays as she left it.
    expect(ana.locator("#ticket-news")).to_contain_text("Priority changed to P1 by Ben Agent", timeout=LIVE)
    assert ana.input_value("#priority") == "P4"
    ana.evaluate("window.__stayed = true")
    ana.click("#panel-form button[type=submit]")
    conflict = ana.locator("#ticket-panel #panel-conflict")
    expect(conflict).to_contain_text("P1")
    expect(conflict).to_contain_text("Ben Agent")
    assert ana.input_value("#priority") == "P1"  # the panel shows the current values
    assert ana.evaluate("window.__stayed") is True and ana.locator("h1").count() == 1
    # She re-applies her change on purpose.
    ana.click("#panel-reapply")
    expect(ana.locator("#ticket-panel")).to_contain_text("Ticket updated.")
    assert ana.input_value("#priority") == "P4"
    for page in (ana, ben):
        page.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_panels_refusal_shows_inside_the_panel_and_keeps_the_page(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, viewport: dict[str, int]
) -> None:
    ticket_id = _ticket(world, django_db_blocker, "VPN drops")
    ana = _agent(browser, live_url, world.ana, viewport)
    ana.goto(f"{live_url}/customers/{world.customer.slug}/tickets/{ticket_id}/")
    ana.evaluate("window.__stayed = true")
    ana.select_option("#status", "pending")  # no question asked yet
    ana.click("#panel-form button[type=submit]")
    expect(ana.locator("#ticket-panel #panel-errors")).to_contain_text("only after an agent")
    assert ana.evaluate("window.__stayed") is True
    assert ana.locator("h1").count() == 1 and ana.locator("link[rel=stylesheet]").count() == 1
    assert ana.locator("#thread").count() == 1 and ana.locator("#body").count() == 1
    ana.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_keyboard_shortcuts_on_the_ticket_page(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any, viewport: dict[str, int]
) -> None:
    ticket_id = _ticket(world, django_db_blocker, "Keyboard ticket")
    ana = _agent(browser, live_url, world.ana, viewport)
    ana.goto(f"{live_url}/customers/{world.customer.slug}/tickets/{ticket_id}/")
    # ? opens the help, Escape closes it.
    ana.keyboard.press("?")
    expect(ana.locator("#shortcuts-help")).to_be_visible()
    expect(ana.locator("#shortcuts-help")).to_contain_text("Assign to me")
    ana.keyboard.press("Escape")
    expect(ana.locator("#shortcuts-help")).to_be_hidden()
    # r focuses the reply box; typing there is typing, not shortcuts.
    ana.keyboard.press("r")
    assert ana.evaluate("document.activeElement.id") == "body"
    ana.keyboard.type("a?r/")
    assert ana.input_value("#body") == "a?r/"
    expect(ana.locator("#shortcuts-help")).to_be_hidden()
    # / focuses the search box in the console header ([data-shortcut=search]).
    ana.evaluate("document.activeElement.blur()")
    ana.keyboard.press("/")
    assert ana.evaluate("document.activeElement.dataset.shortcut") == "search"
    ana.evaluate("document.activeElement.blur()")
    # With a modifier nothing fires.
    ana.keyboard.press("Alt+a")
    ana.keyboard.press("Control+Shift+/")
    expect(ana.locator("#shortcuts-help")).to_be_hidden()
    expect(ana.locator("#assign-me")).to_be_visible()
    # a assigns the ticket to me.
    ana.keyboard.press("a")
    expect(ana.locator("#ticket-panel")).to_contain_text("Ticket updated.")
    assert ana.locator("#assignee").input_value() == str(world.ana.pk)
    expect(ana.locator("#assign-me")).to_have_count(0)
    ana.context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_j_k_and_o_on_a_list_page(
    browser: Browser, live_url: str, world: World, viewport: dict[str, int]
) -> None:
    admin = _agent(browser, live_url, world.admin, viewport)
    admin.goto(f"{live_url}/customers/")
    rows = admin.locator("[data-row]")
    assert rows.count() >= 2
    admin.keyboard.press("j")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    admin.keyboard.press("j")
    expect(rows.nth(1)).to_have_class("current-row")
    expect(rows.nth(0)).not_to_have_attribute("aria-current", "true")
    admin.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    target = rows.nth(0).locator("[data-open]").get_attribute("href")
    admin.keyboard.press("o")
    admin.wait_for_url(f"**{target}")
    admin.go_back()
    admin.keyboard.press("j")
    admin.keyboard.press("Enter")
    admin.wait_for_url(f"**{target}")
    admin.context.close()


def _no_overflow(page: Page, url: str) -> str | None:
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{url}: {response and response.status}"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] <= width[1]:
        return None
    widest = page.evaluate(
        "(w) => Array.from(document.querySelectorAll('body *'))"
        ".filter(e => e.getBoundingClientRect().right > w).slice(-3)"
        ".map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)",
        width[1],
    )
    return f"{url}: {width[0]} px wide in {width[1]} ({', '.join(widest)})"


def test_no_page_overflows_a_phone(
    browser: Browser, live_url: str, world: World, django_db_blocker: Any
) -> None:
    ticket_id = _ticket(world, django_db_blocker, "A subject long enough to wrap on a phone " * 3)
    slug = world.customer.slug
    agent_pages = [
        "/",
        "/customers/",
        f"/customers/{slug}/",
        f"/customers/{slug}/tickets/{ticket_id}/",
        f"/customers/{slug}/tickets/new/",
        f"/customers/{slug}/users/",
        f"/customers/{slug}/cis/",
        f"/customers/{slug}/cis/new/",
        "/notifications/",
        "/profile/",
        "/agents/",
        "/sla/policies/",
        "/sla/profiles/",
        "/sla/simulator/",
        "/canned/",
    ]
    admin_pages = [
        *agent_pages,
        f"/customers/{slug}/users/new/",
        f"/customers/{slug}/edit/",
        f"/customers/{slug}/sla/reapply/",
        f"/agents/{world.ana.pk}/",
        "/agents/new/",
        "/billing/day-passes/",
        "/billing/licences/",
        "/imports/",
        "/onboarding/",
        "/sla/policies/new/",
        "/sla/profiles/new/",
    ]
    failures = []
    for user, paths in ((world.ana, agent_pages), (world.admin, admin_pages)):
        page = _agent(browser, live_url, user, PHONE)
        failures += [f for f in (_no_overflow(page, f"{live_url}{path}") for path in paths) if f]
        page.context.close()
    portal = _portal(live_url, world)
    dana = browser.new_context(viewport=PHONE).new_page()  # type: ignore[arg-type]
    sign_in(dana, portal, world.requester.email)
    for path in (
        "/",
        "/?show=all",
        "/tickets/new/",
        f"/tickets/{ticket_id}/",
        "/cis/",
        "/users/",
        "/profile/",
    ):
        if failure := _no_overflow(dana, f"{portal}{path}"):
            failures.append(failure)
    dana.context.close()
    assert not failures, "\n".join(failures)
