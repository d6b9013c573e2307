"""The console's automation pages: provider admins list, add, change, dry-run and delete rules,
provider-wide and per customer; a bad body is shown under its field; others are kept out."""

from __future__ import annotations

import json
from typing import Any

from automations.models import Rule
from tenants.schema import customer_schema
from tests.automations.conftest import make_rule
from tests.conftest import Cast
from tests.support.clients import console
from tickets import workflows

NOTE = json.dumps([{"action": "note", "body": "Seen by a rule."}])


def test_an_admin_adds_changes_and_deletes_a_customers_rule(cast: Cast) -> None:
    client = console(cast.alice)
    page = "/customers/acme/automations/"
    assert client.get(page).status_code == 200
    added = client.post(page, {"name": "Note it", "event": "created", "actions": NOTE, "enabled": "on"})
    assert added.status_code == 302, added.content.decode()[:2000]
    rule = Rule.objects.get(customer=cast.acme, name="Note it")
    assert rule.owner_id == cast.alice.pk and rule.actions == [{"action": "note", "body": "Seen by a rule."}]
    listed = client.get(page).content.decode()
    assert "Note it" in listed and "add a private note: Seen by a rule." in listed
    changed = client.post(
        f"{page}{rule.pk}/", {"name": "Note it", "event": "updated", "actions": NOTE, "position": "3"}
    )
    assert changed.status_code == 302
    rule.refresh_from_db()
    assert (rule.event, rule.position, rule.enabled) == ("updated", 3, False)
    assert client.post(f"{page}{rule.pk}/delete/").status_code == 302
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_a_bad_rule_is_shown_under_its_field(cast: Cast) -> None:
    bad = json.dumps([{"action": "explode"}])
    reply = console(cast.alice).post("/automations/", {"name": "Bad", "event": "created", "actions": bad})
    assert reply.status_code == 400
    assert "actions[0]: &#x27;explode&#x27; is not an action" in reply.content.decode()
    broken = console(cast.alice).post("/automations/", {"name": "Bad", "event": "created", "actions": "[{"})
    assert broken.status_code == 400
    assert not Rule.objects.filter(name="Bad").exists()


def test_the_dry_run_pages_list_the_matches(cast: Cast) -> None:
    with customer_schema(cast.acme):
        workflows.ticket_create(customer=cast.acme, by=cast.bob, new=workflows.NewTicket(subject="VPN down"))
    body: dict[str, Any] = {
        "name": "VPN",
        "event": "created",
        "conditions": [{"field": "subject", "op": "contains", "value": "vpn"}],
        "actions": [{"action": "close"}],
    }
    own, everyone = make_rule(cast, cast.acme, **body), make_rule(cast, None, **body)
    client = console(cast.alice)
    page = client.get(f"/customers/acme/automations/{own.pk}/dry-run/").content.decode()
    assert "VPN down" in page and "close the ticket" in page
    assert "VPN down" not in client.get(f"/automations/{everyone.pk}/dry-run/").content.decode()
    chosen = client.get(f"/automations/{everyone.pk}/dry-run/", {"customer": "acme"}).content.decode()
    assert "VPN down" in chosen
    assert client.get(f"/automations/{everyone.pk}/dry-run/", {"customer": "nope"}).status_code == 400


def test_only_provider_admins_reach_the_pages(cast: Cast) -> None:
    rule = make_rule(cast, cast.globex, name="Globex rule", event="created", actions=[{"action": "close"}])
    assert console(cast.bob).get("/automations/").status_code == 403
    assert console(cast.bob).get("/customers/acme/automations/").status_code == 403
    assert console(cast.charlie).get("/customers/acme/automations/").status_code == 404
    assert console(cast.acme_it).get("/customers/acme/automations/").status_code == 404
    assert console(cast.alice).get(f"/customers/acme/automations/{rule.pk}/").status_code == 404
    assert console(cast.alice).get(f"/automations/{rule.pk}/").status_code == 404
