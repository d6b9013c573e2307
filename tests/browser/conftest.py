"""Shared by the browser tests: one headless Chromium per module, the sign-in form and a
customer's person to sign in as."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from accounts.models import User
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def customer_person(customer: Customer, email: str) -> User:
    """A user of ``customer`` named after the email's local part, with the tests' password."""
    with customer_schema(customer):
        profile = customer_user_create(
            customer=customer,
            fields=CustomerUserFields(email=email, name=email.split("@")[0]),
            password=PASSWORD,
        )
    return profile.user
