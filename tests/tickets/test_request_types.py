"""Request types and custom fields (issue 19): each customer its own forms, one check of values
for every channel, old tickets keeping the form they were filed with, the type's SLA step, and
the provider's library."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from audit.models import AuditEntry
from cmdb import services as cmdb
from contracts import services as contracts
from sla.models import SlaPolicy
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast, api_for
from tickets.index.models import TicketIndexEntry
from tickets.models import RequestType, Ticket
from tickets.types import services
from tickets.types.values import definitions_clean

pytestmark = pytest.mark.django_db

NEW_STARTER_FIELDS: list[dict[str, Any]] = [
    {"key": "cost_centre", "label": "Cost centre", "kind": "text", "required": True},
    {"key": "start_date", "label": "Start date", "kind": "date", "required": True},
    {"key": "laptop", "label": "Laptop", "kind": "choice", "choices": ["Mac", "Windows"]},
    {"key": "desks", "label": "Desks", "kind": "number"},
    {"key": "budget_code", "label": "Budget code", "kind": "text", "customer_visible": False},
]


def types_url(slug: str = "acme", pk: int | None = None) -> str:
    return f"/api/v1/customers/{slug}/request-types/" + (f"{pk}/" if pk else "")


def tickets_url(slug: str = "acme", pk: int | None = None) -> str:
    return f"/api/v1/customers/{slug}/tickets/" + (f"{pk}/" if pk else "")


def make_type(cast: Cast, customer: Any = None, name: str = "New starter", **values: Any) -> RequestType:
    customer = customer or cast.acme
    fields = definitions_clean(values.pop("fields", NEW_STARTER_FIELDS))
    with customer_schema(customer):
        return services.request_type_create(
            customer=customer, by=cast.alice, values=services.TypeValues(name=name, fields=fields, **values)
        )


def post_ticket(cast: Cast, user: Any, body: dict[str, Any], slug: str = "acme") -> Any:
    return api_for(user).post(tickets_url(slug), {"subject": "Welcome Dana", **body}, format="json")


GOOD = {"cost_centre": "CC-12", "start_date": "2026-12-01", "laptop": "Mac"}


# --- the API of types ------------------------------------------------------------------------------


def test_admins_write_types_and_the_customer_reads_the_visible_ones(cast: Cast) -> None:
    body = {"name": "New starter", "priority": "P2", "fields": NEW_STARTER_FIELDS}
    assert api_for(cast.bob).post(types_url(), body, format="json").status_code == 403
    assert api_for(cast.acme_admin).post(types_url(), body, format="json").status_code == 404
    created = api_for(cast.alice).post(types_url(), body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["version"] == 1 and data["priority"] == "P2" and len(data["fields"]) == 5
    assert data["fields"][2] == {
        "key": "laptop",
        "label": "Laptop",
        "kind": "choice",
        "required": False,
        "choices": ["Mac", "Windows"],
        "customer_visible": True,
        "help_text": "",
    }
    # the customer's users see the fields the customer sees; agents every field
    seen = api_for(cast.acme_user).get(types_url()).json()["results"]
    assert [field["key"] for field in seen[0]["fields"]] == ["cost_centre", "start_date", "laptop", "desks"]
    assert len(api_for(cast.bob).get(types_url(pk=data["id"])).json()["fields"]) == 5
    # another customer's people never see it: Globex has no types; Globex's admin gets 404 on Acme
    assert api_for(cast.globex_user).get(types_url("globex")).json()["results"] == []
    assert api_for(cast.globex_admin).get(types_url()).status_code == 404
    assert api_for(cast.alice).get(types_url(pk=99999999999999999999)).status_code == 404
    # an inactive type is hidden from the customer's side, kept for agents
    api_for(cast.alice).patch(types_url(pk=data["id"]), {"active": False}, format="json")
    assert api_for(cast.acme_user).get(types_url()).json()["results"] == []
    assert api_for(cast.acme_user).get(types_url(pk=data["id"])).status_code == 404
    assert api_for(cast.bob).get(types_url()).json()["results"][0]["active"] is False
    with customer_schema(cast.acme):
        saved = RequestType.objects.get(pk=data["id"])
        entries = list(AuditEntry.objects.get_for_object(saved).order_by("id"))
    assert len(entries) >= 2 and {entry.actor_id for entry in entries} == {cast.alice.pk}


def test_bad_definitions_are_refused_by_name(cast: Cast) -> None:
    admin = api_for(cast.alice)
    twice = [{"key": "a", "label": "A", "kind": "text"}, {"key": "a", "label": "B", "kind": "text"}]
    response = admin.post(types_url(), {"name": "X", "fields": twice}, format="json")
    assert response.status_code == 400 and "used twice" in response.json()["detail"]
    no_choices = [{"key": "size", "label": "Size", "kind": "choice"}]
    response = admin.post(types_url(), {"name": "X", "fields": no_choices}, format="json")
    assert response.status_code == 400 and "size" in response.json()["detail"]
    response = admin.post(
        types_url(), {"name": "X", "fields": [{"key": "a", "label": "A", "kind": "color"}]}, format="json"
    )
    assert response.status_code == 400 and "kind" in response.json()["detail"]
    make_type(cast)
    response = admin.post(types_url(), {"name": "New starter"}, format="json")
    assert response.status_code == 400 and "already has a type named" in response.json()["detail"]


# --- acceptance: required in A, absent in B -----------------------------------------------------------


def test_a_field_required_in_one_customer_is_absent_in_another(cast: Cast) -> None:
    acme_type = make_type(cast)
    globex_type = make_type(cast, cast.globex, fields=[{"key": "room", "label": "Room", "kind": "text"}])
    missing = post_ticket(cast, cast.acme_user, {"request_type": acme_type.pk, "fields": {"laptop": "Mac"}})
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid"
    assert missing.json()["fields"] == {"fields.cost_centre": ["Cost centre: this field is required."]}
    filed = post_ticket(cast, cast.acme_user, {"request_type": "New starter", "fields": GOOD})
    assert filed.status_code == 201, filed.content
    assert filed.json()["request_type"] == acme_type.pk and filed.json()["fields"] == GOOD
    # Globex's form has no cost centre: nothing is required, and the key is unknown there
    plain = post_ticket(cast, cast.globex_user, {"request_type": globex_type.pk}, slug="globex")
    assert plain.status_code == 201, plain.content
    unknown = post_ticket(
        cast, cast.globex_user, {"request_type": globex_type.pk, "fields": {"cost_centre": "CC-1"}}, "globex"
    )
    assert unknown.status_code == 400 and "cost_centre" in unknown.json()["detail"]
    # a customer without types files tickets as before
    assert post_ticket(cast, cast.globex_user, {}, slug="globex").json()["request_type"] is None


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("start_date", "next monday", "Start date: enter a date"),
        ("start_date", "2026-02-30", "Start date: enter a date"),
        ("laptop", "Linux", "Laptop: 'Linux' is not one of Mac, Windows"),
        ("desks", "two", "Desks: enter a number"),
        ("desks", True, "Desks: enter a number"),
        ("cost_centre", "a\nb", "Cost centre: one line only"),
        ("cost_centre", 12, "Cost centre: give a text"),
    ],
)
def test_an_invalid_value_is_a_400_naming_the_field_in_the_api(
    cast: Cast, key: str, value: Any, words: str
) -> None:
    request_type = make_type(cast)
    response = post_ticket(
        cast, cast.acme_user, {"request_type": request_type.pk, "fields": {**GOOD, key: value}}
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [f"fields.{key}"]
    assert words in response.json()["fields"][f"fields.{key}"][0]


def test_customers_cannot_set_hidden_fields_agents_can(cast: Cast) -> None:
    request_type = make_type(cast)
    hidden = {**GOOD, "budget_code": "B-7"}
    refused = post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": hidden})
    assert refused.status_code == 400
    assert refused.json()["fields"] == {
        "fields.budget_code": ["Budget code: only the service desk sets this field."]
    }
    filed = post_ticket(
        cast, cast.bob, {"request_type": request_type.pk, "fields": hidden, "requester": cast.acme_user.email}
    )
    assert filed.status_code == 201 and filed.json()["fields"]["budget_code"] == "B-7"
    pk = filed.json()["id"]
    # the customer's side reads the ticket without the hidden value
    assert "budget_code" not in api_for(cast.acme_user).get(tickets_url(pk=pk)).json()["fields"]
    # an agent changes values with PATCH (audited); the others are kept
    changed = api_for(cast.bob).patch(
        tickets_url(pk=pk), {"fields": {"desks": 2, "laptop": None}}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["fields"] == {
        "cost_centre": "CC-12",
        "start_date": "2026-12-01",
        "desks": 2,
        "budget_code": "B-7",
    }
    with customer_schema(cast.acme):
        entry = AuditEntry.objects.get_for_object(Ticket(pk=pk)).order_by("-id").first()
    assert entry is not None and "fields" in entry.changes


def test_the_type_presets_the_priority(cast: Cast) -> None:
    request_type = make_type(cast, priority="P2")
    assert (
        post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": GOOD}).json()[
            "priority"
        ]
        == "P2"
    )
    given = post_ticket(
        cast, cast.acme_user, {"request_type": request_type.pk, "fields": GOOD, "priority": "P4"}
    )
    assert given.json()["priority"] == "P4"
    assert post_ticket(cast, cast.acme_user, {}).json()["priority"] == "P3"


# --- acceptance: old tickets keep their form -----------------------------------------------------------


def test_an_old_ticket_keeps_its_values_after_the_form_changes(cast: Cast) -> None:
    request_type = make_type(cast)
    old = post_ticket(
        cast, cast.acme_user, {"request_type": request_type.pk, "fields": {**GOOD, "desks": 3}}
    ).json()
    # the admin drops "desks", turns "laptop" into free text and adds a required field
    new_fields = [
        {"key": "cost_centre", "label": "Cost centre", "kind": "text", "required": True},
        {"key": "start_date", "label": "First day", "kind": "date", "required": True},
        {"key": "laptop", "label": "Laptop model", "kind": "text"},
        {"key": "phone", "label": "Phone", "kind": "choice", "choices": ["yes", "no"], "required": True},
    ]
    response = api_for(cast.alice).patch(types_url(pk=request_type.pk), {"fields": new_fields}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    kept = api_for(cast.bob).get(tickets_url(pk=old["id"])).json()
    assert kept["fields"] == {**GOOD, "desks": 3}
    with customer_schema(cast.acme):
        ticket = Ticket.objects.select_related("request_form").get(pk=old["id"])
    assert ticket.request_form is not None and ticket.request_form.version == 1
    # the old ticket's values are still checked against its own form (v1): desks is a number there
    changed = api_for(cast.bob).patch(tickets_url(pk=old["id"]), {"fields": {"desks": 4}}, format="json")
    assert changed.status_code == 200 and changed.json()["fields"]["desks"] == 4
    # new tickets take the new form
    refused = post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": GOOD})
    assert refused.json()["fields"] == {"fields.phone": ["Phone: this field is required."]}
    new = post_ticket(
        cast, cast.acme_user, {"request_type": request_type.pk, "fields": {**GOOD, "phone": "no"}}
    )
    assert new.status_code == 201 and new.json()["fields"]["laptop"] == "Mac"
    # saving the same fields again makes no new version
    again = api_for(cast.alice).patch(types_url(pk=request_type.pk), {"fields": new_fields}, format="json")
    assert again.json()["version"] == 2


# --- acceptance: the request type's SLA step ----------------------------------------------------------


def test_the_request_type_policy_enters_the_hierarchy_and_its_explanation(cast: Cast) -> None:
    gold, silver, contract_policy, ci_policy = (
        SlaPolicy.objects.create(name=name, targets=SlaPolicy.objects.get(is_default=True).targets)
        for name in ("Gold", "Silver", "Contract 8h", "Server 1h")
    )
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=silver))
    contracts.contract_create(
        customer=cast.acme,
        by=cast.alice,
        values={
            "name": "Managed",
            "starts_on": date(2020, 1, 1),
            "ends_on": None,
            "sla_policy": contract_policy,
        },
    )
    request_type = make_type(cast, sla_policy=gold)
    filed = post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": GOOD}).json()
    filed = api_for(cast.bob).get(tickets_url(pk=filed["id"])).json()
    # it wins over the contract and the customer default, and the reason names it
    assert filed["sla"]["policy"]["name"] == "Gold"
    assert (filed["sla"]["source"], filed["sla"]["reason"]) == (
        "request_type",
        "request type 'New starter' has policy 'Gold'",
    )
    chain = api_for(cast.alice).get(tickets_url(pk=filed["id"]) + "sla/").json()["chain"]
    assert [step["source"] for step in chain] == [
        "ticket", "requester", "ci", "request_type", "contract", "customer", "default"
    ]  # fmt: skip
    assert chain[3] == {
        "source": "request_type",
        "policy": gold.pk,
        "text": "request type 'New starter' has policy 'Gold'",
        "decides": True,
    }
    # the customer's user is told the ticket's own policy only
    own = api_for(cast.acme_user).get(tickets_url(pk=filed["id"])).json()["sla"]["reason"]
    assert own == "the SLA policy of the ticket's request type, 'Gold'"
    # the CI still wins over the type
    with customer_schema(cast.acme):
        server = cmdb.ci_create(
            customer=cast.acme, by=None, new=cmdb.NewCi(name="db-01", type="server", sla_policy=ci_policy)
        )
    on_ci = post_ticket(
        cast, cast.bob, {"request_type": request_type.pk, "fields": GOOD, "ci": server.pk}
    ).json()
    assert (on_ci["sla"]["source"], on_ci["sla"]["policy"]["name"]) == ("ci", "Server 1h")
    # a type without a policy leaves the decision to the contract
    plain = make_type(cast, name="Hardware fault", fields=[])
    by_contract = post_ticket(cast, cast.acme_user, {"request_type": plain.pk}).json()["sla"]
    assert (by_contract["source"], by_contract["policy"]["name"]) == ("contract", "Contract 8h")
    # changing the ticket's type re-resolves its policy
    moved = api_for(cast.bob).patch(
        tickets_url(pk=on_ci["id"]), {"ci": None, "request_type": plain.pk}, format="json"
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["sla"]["source"] == "contract" and moved.json()["fields"] == {}


# --- the index: the queue filters by type and by value ------------------------------------------------


def test_the_queue_filters_by_request_type_and_custom_field(cast: Cast) -> None:
    request_type = make_type(cast)
    mac = post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": GOOD}).json()
    win = post_ticket(
        cast,
        cast.acme_user,
        {"request_type": request_type.pk, "fields": {**GOOD, "laptop": "Windows", "desks": 2}},
    ).json()
    post_ticket(cast, cast.acme_user, {})
    row = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=mac["id"])
    assert row.request_type_name == "New starter" and row.fields == GOOD
    queue = api_for(cast.bob)

    def ids(query: str) -> list[int]:
        response = queue.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    assert ids("request_type=New starter") == sorted([mac["id"], win["id"]])
    assert ids("field=laptop:Windows") == [win["id"]]
    assert ids("field=desks:2") == [win["id"]]
    assert ids("field=laptop:Linux") == []
    # renaming the type renames it in the queue's rows
    api_for(cast.alice).patch(types_url(pk=request_type.pk), {"name": "Onboarding"}, format="json")
    assert ids("request_type=Onboarding") == sorted([mac["id"], win["id"]])
    bad = queue.get("/api/v1/tickets/?field=laptop")
    assert bad.status_code == 400 and "field" in bad.json()["fields"]


# --- the provider's library ---------------------------------------------------------------------------


def test_the_library_is_copied_to_any_customer(cast: Cast) -> None:
    admin = api_for(cast.alice)
    entry = admin.post(
        "/api/v1/request-types/",
        {
            "name": "Access request",
            "priority": "P3",
            "fields": [{"key": "system", "label": "System", "kind": "text"}],
        },
        format="json",
    )
    assert entry.status_code == 201, entry.content
    assert api_for(cast.bob).post("/api/v1/request-types/", {"name": "X"}, format="json").status_code == 403
    assert api_for(cast.acme_user).get("/api/v1/request-types/").status_code == 404
    for slug in ("acme", "globex"):
        copied = admin.post(
            f"/api/v1/request-types/{entry.json()['id']}/copy/", {"customer": slug}, format="json"
        )
        assert copied.status_code == 201, copied.content
        assert copied.json()["fields"][0]["key"] == "system"
    again = admin.post(
        f"/api/v1/request-types/{entry.json()['id']}/copy/", {"customer": "acme"}, format="json"
    )
    assert again.status_code == 400
    assert admin.post("/api/v1/request-types/1/copy/", {"customer": "nope"}, format="json").status_code == 404
    with customer_schema(cast.globex):
        assert RequestType.objects.get().name == "Access request"


def test_search_finds_a_ticket_by_the_values_the_customer_sees(cast: Cast) -> None:
    request_type = make_type(cast)
    values = {**GOOD, "cost_centre": "Quokkafinance", "budget_code": "Wombatsecret"}
    body = {"request_type": request_type.pk, "fields": values, "requester": cast.acme_user.email}
    filed = post_ticket(cast, cast.bob, body).json()

    def found(user: Any, words: str) -> list[int]:
        response = api_for(user).get(f"/api/v1/search/?q={words}")
        assert response.status_code == 200, response.content
        return [hit["ticket"] for hit in response.json()["results"]]

    assert found(cast.bob, "quokkafinance") == [filed["id"]]
    assert found(cast.acme_user, "quokkafinance") == [filed["id"]]
    # an internal field is not searchable: its value is not the customer's to find
    assert found(cast.bob, "wombatsecret") == []
    assert api_for(cast.bob).get("/api/v1/customers/acme/tickets/?q=quokka").json()["count"] == 1
    # a change of the values is found at once; the old value no longer
    api_for(cast.bob).patch(
        tickets_url(pk=filed["id"]), {"fields": {"cost_centre": "Platypus"}}, format="json"
    )
    assert found(cast.bob, "platypus") == [filed["id"]] and found(cast.bob, "quokkafinance") == []
    # the rebuild derives the same words from the schema: no drift
    from tickets.index.search import search_compare

    with customer_schema(cast.acme):
        drift, _ = search_compare(customer=cast.acme)
    assert not drift.any, drift


def test_a_typed_create_costs_one_statement_more_an_untyped_none(
    cast: Cast, django_assert_max_num_queries: Any
) -> None:
    """The create's statement budget (``test_create_cost``): a ticket without a type reads nothing
    of request types; with one, the type with its form is one more statement (its name goes to the
    index and its values to the search row without another read)."""
    from tests.tickets.test_create_cost import AGENT_STATEMENTS

    request_type = make_type(cast, fields=[{"key": "room", "label": "Room", "kind": "text"}])
    client = api_for(cast.bob)
    # the first call of the day notes the agent's activity and touches the token: once each
    assert client.post(tickets_url(), {"subject": "warm-up"}, format="json").status_code == 201
    with django_assert_max_num_queries(AGENT_STATEMENTS + 1):
        typed = client.post(
            tickets_url(),
            {"subject": "Typed", "request_type": request_type.pk, "fields": {"room": "4.12"}},
            format="json",
        )
    assert typed.status_code == 201, typed.content
    with django_assert_max_num_queries(AGENT_STATEMENTS):
        assert client.post(tickets_url(), {"subject": "Plain"}, format="json").status_code == 201
