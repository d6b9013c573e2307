"""Onboarding in real Chromium against the real web server (and, for invitations, the real
worker): the provider admin's new-customer wizard end to end, and a customer admin inviting a
colleague who activates the account from the email and submits a ticket."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from audit.context import job_context
from people.services import CustomerUserFields, customer_user_create
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tests.support.processes import wait_for

pytestmark = pytest.mark.browser


def _next(page: Page, heading: str) -> None:
    page.click("#wizard-next")
    page.wait_for_selector(f"h1:has-text('{heading}')")


def test_provider_admin_onboards_a_customer_end_to_end(
    browser: Browser, live_url: str, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    slug, name = f"initrode-{tag}", f"Initrode {tag}"
    with django_db_blocker.unblock(), job_context("tests.browser"):
        executive = SlaPolicy.objects.create(name=f"Executive 2h {tag}", targets=STANDARD_TARGETS)
    port = live_url.rsplit(":", 1)[1]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_url, "alice@msp.test")

    # 1. Name and slug.
    page.goto(f"{live_url}/customers/")
    page.click("#customer-new-link")
    page.fill("#id_name", name)
    page.fill("#id_slug", slug)
    page.fill("#id_email_domains", f"{slug}.example")
    _next(page, "Time zone and business hours")
    # 2. Time zone and a new profile (weekdays 09:00-17:00 are filled in) with French holidays.
    page.fill("#id_timezone", "Europe/Paris")
    page.check("input[name=choice][value=new]")
    page.fill("#id_new-name", f"Paris office {tag}")
    page.fill("#id_fill-country", "FR")
    page.fill("#id_fill-years", "2026-2027")
    _next(page, "Default SLA")
    # 3. A new policy on those hours, and what a P2 opened now would get.
    page.check("input[name=choice][value=new]")
    page.fill("#id_new-name", f"Initrode Gold {tag}")
    page.click("#wizard-preview")
    page.wait_for_selector("#p2-answer")
    assert "first response due" in page.inner_text("#p2-answer")
    _next(page, "First users")
    # Going back keeps what was entered.
    page.click("text=\u2190 Back")
    page.wait_for_selector("h1:has-text('Default SLA')")
    assert page.input_value("#id_new-name") == f"Initrode Gold {tag}"
    _next(page, "First users")
    # 4. Two users: the admin with a password, the CFO invited.
    page.fill("#id_users-0-email", f"boss@{slug}.test")
    page.fill("#id_users-0-name", "Bill Lumbergh")
    page.select_option("#id_users-0-role", "admin")
    page.fill("#id_users-0-password", PASSWORD)
    page.fill("#id_users-1-email", f"cfo@{slug}.test")
    page.fill("#id_users-1-name", "Dana Ruiz")
    _next(page, "Summary")
    summary = page.inner_text("#wizard-summary")
    assert (
        f"Paris office {tag}" in summary and "public holidays of FR" in summary and "A P2 ticket" in summary
    )
    page.screenshot(path=str(ARTIFACTS / "onboarding-summary.png"), full_page=True)
    # 5. One click provisions everything.
    page.click("#wizard-create")
    page.wait_for_selector(f"h1:has-text('{name}')")
    assert f"Initrode Gold {tag}" in page.inner_text("#customer-sla")
    with django_db_blocker.unblock():
        customer = Customer.objects.select_related("business_hours").get(slug=slug)
        assert customer.business_hours is not None and "2026-07-14" in customer.business_hours.holidays

    # The new portal answers and its first user signs in.
    portal_page = browser.new_page()
    sign_in(portal_page, f"http://{slug}.localhost:{port}", f"boss@{slug}.test")
    portal_page.wait_for_selector(f'h1:has-text("{name}\'s tickets")')  # an admin sees the company's
    assert name in portal_page.inner_text("header")
    portal_page.close()

    # The customer is in the queue's customer filter.
    page.goto(f"{live_url}/")
    assert name in page.inner_text("select[name=customer]")

    # The admin gives the CFO a 2-hour override; the CFO's next ticket runs on it.
    page.goto(f"{live_url}/customers/{slug}/users/")
    page.click(f"tr[data-user='cfo@{slug}.test'] a")
    page.select_option("#id_sla_policy", label=executive.name)
    page.click("#user-form button[type=submit]")
    page.wait_for_selector("h1 [data-sla-override]")
    page.goto(f"{live_url}/customers/{slug}/users/")
    assert executive.name in page.inner_text(f"tr[data-user='cfo@{slug}.test']")
    page.goto(f"{live_url}/customers/{slug}/tickets/new/")
    page.fill("#subject", "Board deck will not print")
    page.select_option("#requester", label=f"Dana Ruiz <cfo@{slug}.test>")
    page.click("main button[type=submit]")
    page.wait_for_selector("#ticket-sla")
    assert page.locator("#ticket-sla li.decides[data-source=requester]").count() == 1
    assert "Requester override" in page.inner_text("#ticket-sla")
    assert page.locator("#ticket-panel [data-sla-override]").count() == 1
    page.screenshot(path=str(ARTIFACTS / "onboarding-cfo-ticket.png"), full_page=True)
    page.close()


@pytest.mark.worker
def test_customer_admin_invites_a_colleague_who_activates_and_submits_a_ticket(
    browser: Browser, live_url: str, worker_queue: str, mail_dir: Path, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Hooli {tag}", slug=f"hooli-{tag}")
        with customer_schema(customer):
            customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"gavin@hooli-{tag}.test", name="Gavin", role="admin"),
                password=PASSWORD,
            )
    port = live_url.rsplit(":", 1)[1]
    portal = f"http://{customer.slug}.localhost:{port}"
    colleague = f"jared@hooli-{tag}.test"

    admin = browser.new_page()
    sign_in(admin, portal, f"gavin@hooli-{tag}.test")
    admin.click("nav >> text=Users")
    admin.click("#user-new-link")
    admin.fill("#id_email", colleague)
    admin.fill("#id_name", "Jared Dunn")
    admin.click("#user-form button[type=submit]")
    admin.wait_for_selector("text=An invitation with an activation link goes to")
    admin.close()

    def mail() -> str:
        return "\n".join(path.read_text() for path in mail_dir.glob("*.log"))

    wait_for(lambda: colleague in mail())
    found = re.search(rf"\({re.escape(colleague)}\).*?https?://[^/\s]+(/activate/\S+/)", mail(), re.S)
    assert found, "no activation link for the colleague"

    page = browser.new_page()
    page.goto(f"{portal}{found.group(1)}")  # the link's path on this test server's port
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your password is set.")
    page.goto(f"{portal}/tickets/new/")
    page.fill("#subject", "My laptop will not boot")
    page.fill("#description", "Since the update.")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=we received your request")
    assert "My laptop will not boot" in page.inner_text("h1")
    page.close()
