"""The service report in real Chromium (issue 18): the provider admin opens a customer's report,
sees its charts, issues it and downloads the PDF (which names the customer and holds the figures);
the customer's admin then reads the issued report in the portal."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pypdf
import pytest
from django.utils import timezone
from playwright.sync_api import Browser

from accounts.models import User
from audit.context import job_context
from contracts import time as timelog
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD
from tickets import workflows

pytestmark = [pytest.mark.browser]


@dataclass(frozen=True)
class World:
    customer: Customer
    admin: User
    month: date


@pytest.fixture(scope="module")
def world(django_db_blocker: Any, django_db_setup: None) -> World:
    """Committed data of its own (the server is another process): two tickets this month, one
    with time logged."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(
            name=f"Report Co {tag}", slug=f"report-{tag}", timezone_name="Europe/Berlin"
        )
        alice = User.objects.get(email="alice@msp.test")
        with customer_schema(customer):
            admin = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"cio@report-{tag}.test", name="Cleo Admin", role="admin"),
                password=PASSWORD,
            ).user
            tickets = [
                workflows.ticket_create(customer=customer, by=admin, new=workflows.NewTicket(subject=subject))
                for subject in ("Printer jam", "VPN drops")
            ]
            today = timezone.now().astimezone(customer_zone(customer)).date()
            timelog.time_log(
                customer=customer,
                ticket_id=tickets[0].pk,
                by=alice,
                agent=True,
                data=timelog.TimeInput(minutes=75, work_date=today, billable=True),
            )
    return World(customer=customer, admin=admin, month=today.replace(day=1))


def customer_zone(customer: Customer) -> Any:
    from core.parsers import zone_or_utc

    return zone_or_utc(customer.timezone)


def test_the_admin_issues_the_report_downloads_its_pdf_and_the_customer_reads_it(
    browser: Browser, live_url: str, world: World
) -> None:
    port = live_url.rsplit(":", 1)[1]
    slug, month = world.customer.slug, f"{world.month:%Y-%m}"
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, live_url, "alice@msp.test")
        page.goto(f"{live_url}/customers/{slug}/report/?month={month}")
        page.wait_for_selector("#service-report")
        charts = page.locator("figure.chart img")
        assert charts.count() == 3
        for n in range(3):  # each chart drew: the browser decoded its SVG
            assert charts.nth(n).evaluate("img => img.complete && img.naturalWidth > 0")
        assert page.inner_text('[data-figure="tickets_created"]') == "2"
        page.click("#report-issue button")
        page.wait_for_selector("text=Issued as version 1")
        with page.expect_download() as downloading:
            page.click("#report-pdf")
        pdf = downloading.value
        path = ARTIFACTS / f"service-report-{slug}.pdf"
        pdf.save_as(path)
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages)
        assert world.customer.name in text
        assert "Tickets created" in text and "1.25 h" in text, text[:1500]
        page.screenshot(path=str(ARTIFACTS / "service-report.png"), full_page=True)
    finally:
        context.close()
    # The customer's admin reads it in the portal, as issued.
    portal = f"http://{slug}.localhost:{port}"
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, portal, world.admin.email)
        page.goto(f"{portal}/reports/")
        page.click(f'[data-month="{month}"] a >> nth=0')
        page.wait_for_selector("#service-report")
        assert "Issued as version 1" in page.inner_text("#service-report")
        assert page.inner_text('[data-figure="tickets_created"]') == "2"
        assert page.locator("figure.chart img").count() == 3
    finally:
        context.close()
