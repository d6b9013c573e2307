"""The CMDB in real Chromium: an agent filters the CI list in place, reads why a CI has its SLA,
is refused a loop on the edit form; a customer user sees only their own equipment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from accounts.models import User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from cmdb import services
from people.services import CustomerUserFields, customer_user_create
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.browser.conftest import sign_in
from tests.conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    customer: Customer
    agent: User
    user: User
    policy: str


@pytest.fixture(scope="module")
def site(django_db_blocker: Any, django_db_setup: None) -> Site:
    """Committed data of its own: the web server is another process."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.browser"):
        customer = customer_provision(name=f"Umbrella {tag}", slug=f"umbrella-{tag}")
        agent = agent_create(
            fields=AgentFields(email=f"cara-{tag}@msp.test", name="Cara CMDB", customers=(customer,)),
            password=PASSWORD,
        )
        gold = SlaPolicy.objects.create(name=f"Gold {tag}", targets=STANDARD_TARGETS)
        with customer_schema(customer):
            user = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"una@umbrella-{tag}.test", name="Una User"),
                password=PASSWORD,
            )

            def ci(name: str, ci_type: str, **kw: Any) -> Any:
                return services.ci_create(
                    customer=customer, by=None, new=services.NewCi(name=name, type=ci_type, **kw)
                )

            hq = ci("hq", "other")
            rack = ci("rack-3", "other", parent=hq, sla_policy=gold)
            db = ci("db-01", "server", parent=rack, attributes={"os": "Debian 12", "ram_gb": 64})
            app = ci("crm", "application")
            services.ci_relate(customer=customer, source=app, target=db, kind="runs_on", by=None)
            ci("laptop-una", "workstation", owner=user)
            for n in range(5):
                ci(f"web-{n:02}", "server", parent=rack)
    return Site(customer=customer, agent=agent, user=user.user, policy=gold.name)


def test_an_agent_works_the_cmdb_and_a_user_sees_their_equipment(
    browser: Browser, live_url: str, site: Site
) -> None:
    slug = site.customer.slug
    agent = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(agent, live_url, site.agent.email)
    agent.goto(f"{live_url}/customers/{slug}/cis/")
    agent.wait_for_selector("tr[data-ci='db-01']")
    assert "10 CIs" in agent.inner_text("#asset-counts")

    # The name filter updates the table in place and pushes the URL.
    agent.evaluate("window.__stayed = true")
    agent.fill("#search", "web-0")
    agent.wait_for_selector("tr[data-ci='db-01']", state="detached")
    assert agent.locator("#ci-table tbody tr").count() == 5
    assert agent.evaluate("window.__stayed") is True and "search=web-0" in agent.url
    agent.fill("#search", "")
    agent.wait_for_selector("tr[data-ci='db-01']")

    # The CI page says why db-01 has its SLA and draws its neighbours.
    agent.click("tr[data-ci='db-01'] a")
    agent.wait_for_selector("#effective-sla")
    assert f"db-01 inherits '{site.policy}' from parent rack-3" in agent.inner_text("#effective-sla")
    assert agent.locator("svg.graph a").count() >= 2  # parent rack-3 and crm
    assert "Debian 12" in agent.inner_text("table.attributes")
    agent.screenshot(path=str(ARTIFACTS / "console-ci.png"), full_page=True)

    # A loop is refused on the edit form, under the parent field.
    agent.click("a:has-text('rack-3')")
    agent.click("a.button:has-text('Edit')")
    agent.fill("#id_parent", "db-01")
    agent.click("main button[type=submit]")
    agent.wait_for_selector("text=db-01 cannot be the parent of rack-3")

    # The customer's user sees only their own equipment, read-only, on a phone.
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    portal = f"http://{slug}.localhost:{live_url.rsplit(':', 1)[1]}"
    sign_in(phone, portal, site.user.email)
    phone.click("nav >> text=Equipment")
    phone.wait_for_selector("text=laptop-una")
    assert "db-01" not in phone.inner_text("main")
    phone.click("text=laptop-una")
    phone.wait_for_selector("#effective-sla")
    assert "Edit" not in phone.inner_text("main")
    phone.screenshot(path=str(ARTIFACTS / "portal-ci.png"), full_page=True)
