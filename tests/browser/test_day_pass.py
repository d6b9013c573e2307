"""Day passes in real Chromium: an occasional agent signs in late in their evening, meets the
Proceed page, proceeds (the pool drops by exactly one) and answers a ticket; after their local
midnight the Proceed page is back. The web server runs with a frozen clock
(``tests.support.frozen_server``) and is restarted past the agent's midnight; sessions live in
the database, so the browser stays signed in. A provider admin then finds the pass in the log and
the licence report.

The pool is global and the ledger append-only: the module buys exactly the one pass the test
uses, so the balance ends where it started, and the test checks differences, never absolutes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from subprocess import Popen
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from billing.models import Channel, DayPassConsumption
from billing.services import day_passes_buy, pool
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tests.support import frozen_server, processes
from tickets import workflows
from tickets.models import Comment

pytestmark = [pytest.mark.browser]

ZONE = ZoneInfo("Asia/Kolkata")  # UTC+05:30: the agent's midnight is nobody's UTC midnight


@dataclass(frozen=True)
class World:
    customer: Customer
    admin: User
    agent: User
    ticket_path: str
    balance_before: int  # the pool before this module bought its pass


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server is another process), and the one pass it uses."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Pass {tag}", slug=f"pass-{tag}")
        admin = agent_create(
            fields=AgentFields(email=f"ada-{tag}@msp.test", name="Ada Admin", is_admin=True),
            password=PASSWORD,
        )
        agent = agent_create(
            fields=AgentFields(
                email=f"olga-{tag}@msp.test",
                name="Olga Occasional",
                licence=Licence.OCCASIONAL,
                timezone=ZONE.key,
                customers=(customer,),
            ),
            password=PASSWORD,
        )
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"raj@pass-{tag}.test", name="Raj Requester"),
                password=PASSWORD,
            ).user
            ticket = workflows.ticket_create(
                customer=customer, by=requester, new=workflows.NewTicket(subject="Printer on floor 3 offline")
            )
        balance_before = pool().balance
        day_passes_buy(by=admin, quantity=1)
    path = f"/customers/{customer.slug}/tickets/{ticket.pk}/"
    return World(customer, admin, agent, path, balance_before)


class FrozenWeb:
    """The frozen web server of this module, (re)started at an instant on a fresh port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: Popen[bytes] | None = None

    def start(self, instant: datetime) -> str:
        self.stop()
        port = processes.free_port()
        self.proc = frozen_server.start(port, {**self.env, "PUBLIC_PORT": str(port)}, self.log, instant)
        return f"http://localhost:{port}"

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc)
            self.proc = None


@pytest.fixture(scope="module")
def frozen_web(
    django_db_setup: None, mail_dir: Path, media_dir: Path, celery_queue: str
) -> Iterator[FrozenWeb]:
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "web-frozen.log"
    log.write_bytes(b"")
    env = processes.process_env(
        EMAIL_URL=f"file://{mail_dir}", MEDIA_ROOT=str(media_dir), CELERY_QUEUE=celery_queue
    )
    web = FrozenWeb(env, log)
    yield web
    web.stop()


def _balance(django_db_blocker: Any) -> int:
    with django_db_blocker.unblock():
        return pool().balance


def _passes(django_db_blocker: Any, agent: User) -> list[DayPassConsumption]:
    with django_db_blocker.unblock():
        return list(DayPassConsumption.objects.filter(agent=agent).order_by("consumed_at"))


def _long_date(day: date) -> str:
    """How the Proceed page writes a date: ``Sunday 22 November 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _on_proceed_page(page: Page, day: date) -> None:
    page.wait_for_selector("#proceed")
    assert "/day-pass/" in page.url
    text = page.inner_text("#day-pass")
    assert "A day pass will be used" in text and _long_date(day) in text
    assert "(midnight in Asia/Kolkata)" in text


def test_occasional_agent_proceeds_once_per_local_date(
    browser: Browser, frozen_web: FrozenWeb, world: World, django_db_blocker: Any
) -> None:
    today = datetime.now(ZONE).date()
    evening = datetime.combine(today, time(23, 20), tzinfo=ZONE)  # 40 minutes before their midnight
    tomorrow = today + timedelta(days=1)
    after_midnight = datetime.combine(tomorrow, time(0, 5), tzinfo=ZONE)
    start = _balance(django_db_blocker)

    # 1. Late in the agent's evening: signing in leads to the Proceed page; nothing used yet.
    base = frozen_web.start(evening)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, world.agent.email)
    _on_proceed_page(page, today)
    assert _balance(django_db_blocker) == start and _passes(django_db_blocker, world.agent) == []
    page.screenshot(path=str(ARTIFACTS / "day-pass.png"), full_page=True)

    # 2. Proceed: exactly one pass, valid until the agent's next midnight; back to the console.
    page.click("#proceed")
    page.wait_for_selector("text=Day pass used for")
    assert _balance(django_db_blocker) == start - 1
    (used,) = _passes(django_db_blocker, world.agent)
    assert used.local_date == today and used.timezone == ZONE.key and used.channel == Channel.CONSOLE
    assert used.valid_until == datetime.combine(tomorrow, time(0), tzinfo=ZONE)
    assert evening <= used.consumed_at < used.valid_until

    # 3. Working a ticket costs nothing more.
    page.goto(f"{base}{world.ticket_path}")
    page.fill("#body", "Power-cycled it remotely; it is printing again.")
    page.click("form[action$='/reply/'] button[type=submit]")
    page.wait_for_selector("text=Reply sent.")
    with django_db_blocker.unblock(), customer_schema(world.customer):
        assert Comment.objects.filter(author=world.agent, body__startswith="Power-cycled").exists()
    assert _balance(django_db_blocker) == start - 1 and len(_passes(django_db_blocker, world.agent)) == 1

    # 4. Past the agent's midnight (the server restarted with its clock there): the session
    #    holds, and the Proceed page is back for the new local date; still nothing used.
    base = frozen_web.start(after_midnight)
    page.goto(f"{base}{world.ticket_path}")
    _on_proceed_page(page, tomorrow)
    assert page.locator("input[name=next]").input_value() == world.ticket_path
    assert _balance(django_db_blocker) == start - 1 and len(_passes(django_db_blocker, world.agent)) == 1
    page.screenshot(path=str(ARTIFACTS / "day-pass-next-day.png"), full_page=True)
    context.close()

    # 5. The provider admin finds the pass in the log (ended by now) and in the licence report.
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = admin_ctx.new_page()
    sign_in(admin, base, world.admin.email)
    admin.goto(f"{base}/billing/day-passes/?agent={world.agent.email}")
    row = admin.locator(f"#day-pass-log tr[data-agent='{world.agent.email}']")
    assert row.count() == 1 and row.get_attribute("data-date") == today.isoformat()
    text = row.inner_text()
    assert "expired" in text and "Console" in text and f"{tomorrow:%a %d %b} 00:00 IST" in text
    assert admin.inner_text("[data-figure=balance]") == str(_balance(django_db_blocker))
    admin.screenshot(path=str(ARTIFACTS / "billing-day-passes.png"), full_page=True)
    # Reviewing a purchase shows the total and buys nothing; cancelling leaves it at that.
    admin.fill("#quantity", "12")
    admin.click("#day-pass-buy button[type=submit]")
    admin.wait_for_selector("#confirm-purchase")
    assert admin.inner_text("[data-sum]") == "12 day passes \u00d7 6.00 EUR = 72.00 EUR"
    admin.screenshot(path=str(ARTIFACTS / "billing-buy-confirm.png"), full_page=True)
    admin.click("#day-pass-confirm >> text=Cancel")
    admin.wait_for_selector("#day-pass-pool")
    assert _balance(django_db_blocker) == start - 1
    admin.goto(f"{base}/billing/licences/?month={today:%Y-%m}")
    assert admin.locator("#passes-chart").evaluate("img => img.complete && img.naturalWidth > 0")
    agent_row = admin.locator(f"#licence-agents tr[data-agent='{world.agent.email}']")
    assert agent_row.locator("[data-passes]").inner_text() == "1"
    admin.screenshot(path=str(ARTIFACTS / "billing-licences.png"), full_page=True)
    admin_ctx.close()

    # The module bought exactly the pass it used.
    assert _balance(django_db_blocker) == world.balance_before
