"""``GET /api/v1/audit/`` (api.md): one chain's entries (the provider's, or a customer's with
``?customer=``), filtered by actor, action and days, for provider admins only; bad filters are
400 naming the parameter."""

from __future__ import annotations

from audit.context import person_context
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for


def test_the_audit_list_reads_one_chain_with_filters(cast: Cast) -> None:
    """``GET /api/v1/audit/`` (api.md): the provider's entries, or with ``customer`` that
    customer's own; filtered by actor, action and days; provider admins only."""
    from tickets import workflows

    with person_context(cast.bob, channel="api"), customer_schema(cast.acme):
        ticket = workflows.ticket_create(
            customer=cast.acme, by=cast.bob, new=workflows.NewTicket(subject="Audited")
        )
    admin = api_for(cast.alice)
    page = admin.get("/api/v1/audit/", {"customer": "acme", "actor": "bob@msp.test", "action": "create"})
    assert page.status_code == 200, page.content
    mine = [row for row in page.json()["results"] if row["object_type"] == "tickets.ticket"]
    assert mine and mine[0]["object_id"] == str(ticket.pk)
    row = mine[0]
    assert row["actor"] == {"id": cast.bob.pk, "email": "bob@msp.test", "name": "bob"} and row["job"] is None
    assert (row["customer"], row["action"], row["channel"]) == ("acme", "create", "api")
    assert set(row) >= {
        "id",
        "at",
        "actor",
        "job",
        "channel",
        "customer",
        "action",
        "object_type",
        "object_id",
        "changes",
    }
    public = admin.get("/api/v1/audit/").json()["results"]
    assert all(entry["customer"] is None for entry in public)
    assert not admin.get(
        "/api/v1/audit/", {"customer": "acme", "action": "delete", "actor": "bob@msp.test"}
    ).json()["results"]
    for bad in ({"customer": "nobody"}, {"action": "erase"}, {"from": "2026-13-01"}, {"actor": "x\x00"}):
        answer = admin.get("/api/v1/audit/", bad)
        assert answer.status_code == 400 and set(answer.json()["fields"]) == set(bad), answer.content
    for outsider in (cast.bob, cast.acme_admin, cast.acme_user):
        assert api_for(outsider).get("/api/v1/audit/").status_code in (403, 404)
