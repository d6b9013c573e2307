"""The pages of notification rules (console, provider admins) and of a person's preferences
(console and portal)."""

from __future__ import annotations

from datetime import time

import pytest

from notifications.models import NotificationPreference, NotificationRule
from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console, portal
from tickets import workflows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


def test_the_customer_page_shows_the_defaults_adds_a_rule_and_previews(cast: Cast) -> None:
    page = "/customers/acme/notifications/"
    alice = console(cast.alice)
    html = alice.get(page).content.decode()
    assert 'data-event="ticket_created" data-source="default"' in html and "only while unassigned" in html
    added = alice.post(
        page,
        {
            "name": "CFO hears of breaches",
            "event": "sla_breach",
            "people": [str(cast.acme_admin.pk)],
            "channels": ["email"],
            "enabled": "on",
        },
    )
    assert added.status_code == 302
    rule = NotificationRule.objects.get(customer=cast.acme)
    assert rule.recipients == [{"user": cast.acme_admin.pk}] and rule.channels == ["email"]
    html = alice.get(page).content.decode()
    assert f'data-rule="{rule.pk}"' in html and "CFO hears of breaches" in html
    # nobody to tell is refused by name; so is someone of another customer
    assert alice.post(page, {"event": "resolved", "channels": ["email"]}).status_code == 400
    foreign = alice.post(
        page, {"event": "resolved", "people": [str(cast.globex_user.pk)], "channels": ["email"]}
    )
    assert foreign.status_code == 400 and NotificationRule.objects.count() == 1
    with customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="Preview me")
        )
    preview = alice.get(f"{page}?ticket={ticket.pk}").content.decode()
    assert 'id="preview"' in preview and "admin (email)" in preview and "bob (email, in_app)" in preview
    assert alice.get(f"{page}?ticket=abc").status_code == 400
    assert alice.get(f"{page}?ticket=999999").status_code == 400
    deleted = alice.post(f"{page}{rule.pk}/delete/")
    assert deleted.status_code == 302 and not NotificationRule.objects.exists()
    # the provider's admins only: a member agent is refused, a customer's people never see it
    assert console(cast.bob).get(page).status_code == 403
    assert console(cast.acme_it).get(page).status_code == 404


def test_the_provider_wide_page_lists_the_defaults_and_adds_a_rule(cast: Cast) -> None:
    alice = console(cast.alice)
    html = alice.get("/notifications/rules/").content.decode()
    assert 'data-event="sla_breach" data-source="default"' in html and "cannot be muted" in html
    added = alice.post(
        "/notifications/rules/",
        {"event": "report_issued", "roles": ["provider_admins"], "channels": ["in_app"], "enabled": "on"},
    )
    assert added.status_code == 302
    assert NotificationRule.objects.get(customer=None).recipients == [{"role": "provider_admins"}]
    assert console(cast.bob).get("/notifications/rules/").status_code == 403


def test_a_person_sets_quiet_hours_and_mutes_on_the_portal_and_the_console(cast: Cast) -> None:
    client = portal(cast.acme_user)
    html = client.get("/notifications/preferences/").content.decode()
    assert "mute-resolved-email" in html and "mute-sla_breach-email" not in html
    saved = client.post(
        "/notifications/preferences/",
        {"quiet_from": "22:00", "quiet_to": "07:00", "mute-resolved-email": "on"},
    )
    assert saved.status_code == 302
    preference = NotificationPreference.objects.get(user=cast.acme_user)
    assert (preference.quiet_from, preference.quiet_to) == (time(22), time(7))
    assert preference.muted == {"resolved": ["email"]}
    half = client.post("/notifications/preferences/", {"quiet_from": "22:00"})
    assert half.status_code == 400 and "Give both ends" in half.content.decode()
    bob = console(cast.bob)
    assert bob.post("/notifications/preferences/", {"mute-agent_replied-in_app": "on"}).status_code == 302
    assert NotificationPreference.objects.get(user=cast.bob).muted == {"agent_replied": ["in_app"]}
