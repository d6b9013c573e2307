"""The audit viewer (issue 17): the console's page of one chain for provider admins, with its
filters, readable diffs, head, verification and CSV/JSON exports; the portal's page of the
company's own chain for its admins; and ``…/audit/`` of the API, customer-scoped."""

from __future__ import annotations

import csv
import io
import json

from audit.context import person_context
from audit.models import AuditEntry
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console, portal


def _rename_acme(cast: Cast, name: str) -> None:
    response = api_for(cast.alice).patch("/api/v1/customers/acme/", {"name": name}, format="json")
    assert response.status_code == 200, response.content


def _new_acme_user(cast: Cast, email: str) -> None:
    response = api_for(cast.bob).post(
        "/api/v1/customers/acme/users/", {"email": email, "name": "Someone New"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_the_console_page_shows_the_providers_chain_with_readable_diffs(cast: Cast) -> None:
    _rename_acme(cast, "Acme Renamed")
    page = console(cast.alice).get("/audit/", {"object_type": "tenants.customer", "actor": "alice@msp.test"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme Renamed" in html and 'data-field="name"' in html
    assert "<del>Acme</del> → <ins>Acme Renamed</ins>" in html
    assert "alice &lt;alice@msp.test&gt;" in html and 'id="audit-head"' in html


def test_the_console_page_reads_a_customers_chain_and_verifies_it(cast: Cast) -> None:
    _new_acme_user(cast, "new@acme.test")
    page = console(cast.alice).get("/audit/", {"customer": "acme", "verify": "true"})
    html = page.content.decode()
    assert page.status_code == 200 and "new@acme.test" in html
    # This test's transaction never commits, so its entries are not sealed: the verdict says so.
    assert 'id="audit-verdict" data-ok="false"' in html and "it was never sealed into the chain" in html
    other = console(cast.alice).get("/audit/", {"customer": "globex"}).content.decode()
    assert "new@acme.test" not in other


def test_bad_filters_are_named_on_the_page(cast: Cast) -> None:
    client = console(cast.alice)
    for params, named in (
        ({"customer": "nobody-here"}, "customer"),
        ({"from": "2026-13-40"}, "from"),
        ({"action": "explode"}, "action"),
        ({"object_type": "nothing.here"}, "object_type"),
        ({"object_id": "a\x00b"}, "object_id"),
        ({"verify": "\u00b2"}, "verify"),
    ):
        response = client.get("/audit/", params)
        assert response.status_code == 400, params
        assert named in response.content.decode(), params
        if "verify" not in params:  # an export does not verify: it reads the filters only
            assert client.get("/audit/entries.csv", params).status_code == 400, params


def test_only_provider_admins_reach_the_console_pages(cast: Cast) -> None:
    for path in ("/audit/", "/audit/entries.csv", "/audit/entries.json", "/audit/access-review/"):
        assert console(cast.bob).get(path).status_code == 403, path
        assert console(cast.acme_it).get(path).status_code == 404, path


def test_the_csv_export_is_formula_safe_and_the_json_export_has_the_apis_fields(cast: Cast) -> None:
    _rename_acme(cast, "=HYPERLINK(1)")
    client = console(cast.alice)
    params = {"object_type": "tenants.customer", "action": "update"}
    response = client.get("/audit/entries.csv", params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows and rows[0]["object"] == "'=HYPERLINK(1)" and rows[0]["actor_email"] == "alice@msp.test"
    assert json.loads(rows[0]["changes"].lstrip("'"))["name"] == ["Acme", "=HYPERLINK(1)"]
    exported = json.loads(b"".join(client.get("/audit/entries.json", params).streaming_content))  # type: ignore[attr-defined]
    listed = api_for(cast.alice).get("/api/v1/audit/", params).json()["results"]
    assert [entry["id"] for entry in exported] == [entry["id"] for entry in listed]
    assert set(exported[0]) == set(listed[0])


def test_a_customers_chain_exports_inside_that_customer(cast: Cast) -> None:
    _new_acme_user(cast, "exported@acme.test")
    body = b"".join(console(cast.alice).get("/audit/entries.csv", {"customer": "acme"}).streaming_content)  # type: ignore[attr-defined]
    assert b"exported@acme.test" in body
    globex = b"".join(console(cast.alice).get("/audit/entries.csv", {"customer": "globex"}).streaming_content)  # type: ignore[attr-defined]
    assert b"exported@acme.test" not in globex


def test_the_portal_page_shows_the_companys_own_entries_to_its_admins(cast: Cast) -> None:
    _new_acme_user(cast, "seen@acme.test")
    with customer_schema(cast.globex), person_context(cast.alice, channel="web"):
        AuditEntry.objects.create(
            content_type_id=AuditEntry.objects.values_list("content_type_id", flat=True).first() or 1,
            object_pk="1",
            object_repr="globex secret",
            action=AuditEntry.Action.UPDATE,
            changes={},
        )
    page = portal(cast.acme_admin).get("/audit/")
    html = page.content.decode()
    assert page.status_code == 200 and "seen@acme.test" in html
    assert "bob &lt;bob@msp.test&gt;" in html  # provider staff by name
    assert "globex secret" not in html and 'name="customer"' not in html
    assert portal(cast.acme_user).get("/audit/").status_code == 403
    assert portal(cast.acme_it).get("/audit/").status_code == 403
    exported = b"".join(portal(cast.acme_admin).get("/audit/entries.csv").streaming_content)  # type: ignore[attr-defined]
    assert b"seen@acme.test" in exported and b"globex secret" not in exported


def test_the_customer_scoped_api_is_for_its_admins_and_member_agents(cast: Cast) -> None:
    _new_acme_user(cast, "api@acme.test")
    for user in (cast.acme_admin, cast.bob, cast.alice):
        response = api_for(user).get("/api/v1/customers/acme/audit/", {"actor": "bob@msp.test"})
        assert response.status_code == 200, user
        entry = next(e for e in response.json()["results"] if "api@acme.test" in e["object_repr"])
        assert entry["actor"] == {"id": cast.bob.pk, "email": "bob@msp.test", "name": "bob"}
        assert entry["customer"] == "acme" and entry["channel"] == "api"
    assert api_for(cast.acme_user).get("/api/v1/customers/acme/audit/").status_code == 403
    assert api_for(cast.globex_admin).get("/api/v1/customers/acme/audit/").status_code == 404
    assert api_for(cast.charlie).get("/api/v1/customers/globex/audit/").status_code == 403  # no reports scope
    bad = api_for(cast.acme_admin).get("/api/v1/customers/acme/audit/", {"to": "\uff19"})
    assert bad.status_code == 400 and "to" in bad.json()["fields"]


def test_an_export_is_on_record_with_who_what_and_which_filters(cast: Cast) -> None:
    from billing.models import DayPassConsumption

    client = console(cast.alice)
    b"".join(client.get("/audit/entries.csv", {"customer": "acme", "action": "update"}).streaming_content)  # type: ignore[attr-defined]
    b"".join(client.get("/billing/day-passes/log.csv").streaming_content)  # type: ignore[attr-defined]
    client.get("/audit/access-review.csv", {"from": "2026-11-01", "to": "2026-11-30"})
    exports = AuditEntry.objects.filter(additional_data__event="exported").order_by("id")
    assert [(e.additional_data["export"], e.additional_data["format"]) for e in exports] == [
        ("audit entries of acme", "csv"),
        ("day-pass log", "csv"),
        ("access review", "csv"),
    ]
    first, _, review = exports
    assert first.actor == cast.alice and first.channel == "web" and first.action == AuditEntry.Action.ACCESS
    assert first.additional_data["filters"] == {"customer": "acme", "action": "update"}
    assert review.additional_data["filters"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert exports[1].content_type.model_class() is DayPassConsumption
    b"".join(portal(cast.acme_admin).get("/audit/entries.json").streaming_content)  # type: ignore[attr-defined]
    with customer_schema(cast.acme):  # the portal's export is on the company's own record
        mine = AuditEntry.objects.get(additional_data__event="exported")
        assert mine.actor == cast.acme_admin and mine.additional_data["format"] == "json"
