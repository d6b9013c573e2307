"""Console and portal sign-in in real Chromium against the real web server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_agent_signs_in_to_the_console_and_sees_only_member_customers(
    browser: Browser, live_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, live_url, "bob@msp.test")
    page.wait_for_selector("h1:has-text('Queue')")
    customers = page.inner_text("select[name=customer]")
    assert "Acme" in customers and "Globex" not in customers
    page.screenshot(path=str(ARTIFACTS / "console-home.png"), full_page=True)
    page.close()


def test_wrong_password_shows_a_message_and_no_session(browser: Browser, live_url: str) -> None:
    page = browser.new_page()
    page.goto(f"{live_url}/login/")
    page.fill("#id_email", "bob@msp.test")
    page.fill("#id_password", "not-it")
    page.click("button[type=submit]")
    assert "not correct" in page.inner_text("[role=alert]")
    page.close()


def test_customer_user_signs_in_on_their_portal_and_the_session_is_refused_elsewhere(
    browser: Browser, live_url: str
) -> None:
    port = live_url.rsplit(":", 1)[1]
    acme, globex = f"http://acme.localhost:{port}", f"http://globex.localhost:{port}"
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    sign_in(page, acme, "user@acme.test")
    page.wait_for_selector("h1:has-text('My tickets')")
    assert "Acme" in page.inner_text("header")
    page.screenshot(path=str(ARTIFACTS / "portal-home.png"), full_page=True)

    # The same person cannot sign in on another customer's portal...
    sign_in(page, globex, "user@acme.test")
    assert "not correct" in page.inner_text("[role=alert]")

    # ...and their session cookie, carried over by hand, is not honoured there either.
    session = next(c for c in context.cookies(acme) if c["name"] == "sessionid")
    context.add_cookies([{**session, "domain": "globex.localhost"}])  # type: ignore[typeddict-item]
    page.goto(f"{globex}/")
    assert page.url.startswith(f"{globex}/login/")
    context.close()


def test_console_refuses_customer_users_with_the_same_words(browser: Browser, live_url: str) -> None:
    page = browser.new_page()
    sign_in(page, live_url, "user@acme.test")
    assert "not correct" in page.inner_text("[role=alert]")
    page.close()
