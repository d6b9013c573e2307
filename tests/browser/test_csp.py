"""The Content-Security-Policy in real Chromium: pages with the week grid, HTMX filters, confirm
dialogs and the API docs work under it, and the browser reports no violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Dialog, Page

from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def _watch(page: Page) -> list[str]:
    """Every policy violation the page reports (Chromium logs each one to the console)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_console_pages_run_under_the_policy(browser: Browser, live_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    violations = _watch(page)
    sign_in(page, live_url, "alice@msp.test")
    page.wait_for_selector("h1:has-text('Queue')")
    page.select_option("select[name=customer]", label="Acme")  # an HTMX request
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_url}/sla/profiles/new/")
    page.fill("input[name=mon]", "09:00-17:00")
    page.wait_for_selector("#week-track-mon rect.week-bar")  # the grid follows the input (HTMX)
    bar = page.locator("#week-track-mon rect.week-bar").bounding_box()
    track = page.locator("#week-track-mon").bounding_box()
    assert bar is not None and track is not None
    assert abs(bar["width"] / track["width"] - 1 / 3) < 0.02  # 8 of 24 hours, drawn without style=
    page.goto(f"{live_url}/agents/{_agent_id(page, live_url)}/")
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.click("form[data-confirm] button[type=submit]")
    assert dialogs and dialogs[0].startswith("Deactivate")  # asked, and refused: nothing happened
    assert "Deactivated" not in page.inner_text("h1")
    page.screenshot(path=str(ARTIFACTS / "csp-console.png"), full_page=True)
    assert violations == []
    page.close()


def _agent_id(page: Page, live_url: str) -> str:
    page.goto(f"{live_url}/agents/")
    href = page.get_attribute("a[href^='/agents/']:has-text('bob')", "href")
    assert href is not None
    return href.strip("/").split("/")[-1]


def test_the_portal_runs_under_the_policy(browser: Browser, live_url: str) -> None:
    port = live_url.rsplit(":", 1)[1]
    page = browser.new_page()
    violations = _watch(page)
    sign_in(page, f"http://acme.localhost:{port}", "user@acme.test")
    page.wait_for_selector("h1:has-text('My tickets')")
    assert violations == []
    page.close()


def test_the_api_docs_run_under_the_policy_from_this_host_only(browser: Browser, live_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    violations = _watch(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)  # the schema is rendered
    assert "ServiFlow API" in page.inner_text(".swagger-ui .info")
    page.screenshot(path=str(ARTIFACTS / "csp-api-docs.png"))
    assert requested and all(url.startswith(live_url) for url in requested), requested
    assert violations == []
    page.close()
