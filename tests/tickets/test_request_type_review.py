"""Request types after review: the customer's side names only the CIs and colleagues the portal
shows them, reads no hidden field in the audit trail; the library refuses what a type refuses;
one parser of numbers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from cmdb import services as cmdb
from cmdb.models import ConfigurationItem
from people.models import CustomerUser
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import portal
from tests.tickets.test_request_types import GOOD, make_type, post_ticket
from tickets.models import Ticket
from tickets.types import services
from tickets.types.masking import changes_for_customer
from tickets.types.values import is_empty, parse_number

pytestmark = pytest.mark.django_db

DEVICE_FIELDS: list[dict[str, Any]] = [
    {"key": "device", "label": "Device", "kind": "ci"},
    {"key": "manager", "label": "Manager", "kind": "user"},
]


def two_cis(cast: Cast) -> tuple[ConfigurationItem, ConfigurationItem]:
    """A laptop the customer's user owns and a server they do not."""
    with customer_schema(cast.acme):
        owner = CustomerUser.objects.get(user=cast.acme_user)
        own = cmdb.ci_create(
            customer=cast.acme, by=None, new=cmdb.NewCi(name="laptop-dana", type="workstation", owner=owner)
        )
        other = cmdb.ci_create(customer=cast.acme, by=None, new=cmdb.NewCi(name="srv-payroll", type="server"))
    return own, other


def test_a_portal_user_is_offered_and_may_pick_only_the_cis_they_see(cast: Cast) -> None:
    request_type = make_type(cast, name="Device fault", fields=DEVICE_FIELDS)
    own, other = two_cis(cast)
    page = portal(cast.acme_user).get(f"/tickets/new/?type={request_type.pk}").content.decode()
    assert "laptop-dana" in page and "srv-payroll" not in page
    admin_page = portal(cast.acme_admin).get(f"/tickets/new/?type={request_type.pk}").content.decode()
    assert "laptop-dana" in admin_page and "srv-payroll" in admin_page  # admins see every CI
    post = {"subject": "Broken", "request_type": str(request_type.pk), "field.device": str(other.pk)}
    refused = portal(cast.acme_user).post("/tickets/new/", post)
    assert refused.status_code == 400
    assert 'id="field-device-errors"' in refused.content.decode()
    assert (
        f"Device: no configuration item in use of this customer has id {other.pk}."
        in refused.content.decode()
    )
    post["field.device"] = str(own.pk)
    assert portal(cast.acme_user).post("/tickets/new/", post).status_code == 302


def test_an_api_create_with_someone_elses_ci_is_a_400_naming_the_field(cast: Cast) -> None:
    request_type = make_type(cast, name="Device fault", fields=DEVICE_FIELDS)
    own, other = two_cis(cast)
    refused = post_ticket(
        cast, cast.acme_user, {"request_type": request_type.pk, "fields": {"device": other.pk}}
    )
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["fields.device"]
    filed = post_ticket(cast, cast.acme_user, {"request_type": request_type.pk, "fields": {"device": own.pk}})
    assert filed.status_code == 201, filed.content
    # a PATCH of the values by the requester is held to the same rule
    pk = filed.json()["id"]
    moved = api_for(cast.acme_user).patch(
        f"/api/v1/customers/acme/tickets/{pk}/", {"fields": {"device": other.pk}}, format="json"
    )
    assert moved.status_code == 400 and list(moved.json()["fields"]) == ["fields.device"]
    # an agent names any CI in use
    agent = post_ticket(
        cast,
        cast.bob,
        {"request_type": request_type.pk, "fields": {"device": other.pk}, "requester": cast.acme_user.email},
    )
    assert agent.status_code == 201, agent.content


def test_a_portal_user_names_a_colleague_by_email_and_is_not_shown_the_list(cast: Cast) -> None:
    request_type = make_type(cast, name="Device fault", fields=DEVICE_FIELDS)
    page = portal(cast.acme_user).get(f"/tickets/new/?type={request_type.pk}").content.decode()
    assert "admin@acme.test" not in page and 'name="field.manager"' in page
    admin_page = portal(cast.acme_admin).get(f"/tickets/new/?type={request_type.pk}").content.decode()
    assert "user@acme.test" in admin_page  # the customer's admins see its users anyway
    post = {"subject": "Broken", "request_type": str(request_type.pk), "field.manager": "admin@acme.test"}
    assert portal(cast.acme_user).post("/tickets/new/", post).status_code == 302
    post["field.manager"] = "nobody@acme.test"
    refused = portal(cast.acme_user).post("/tickets/new/", post)
    assert refused.status_code == 400 and 'id="field-manager-errors"' in refused.content.decode()
    with customer_schema(cast.acme):
        admin = CustomerUser.objects.get(user=cast.acme_admin)
        assert Ticket.objects.get(subject="Broken").fields == {"manager": admin.pk}


def test_a_customer_admin_reads_no_hidden_field_in_the_audit_trail(cast: Cast) -> None:
    request_type = make_type(cast)  # budget_code is for the service desk only
    filed = post_ticket(
        cast,
        cast.bob,
        {
            "request_type": request_type.pk,
            "fields": {**GOOD, "budget_code": "B-777"},
            "requester": cast.acme_user.email,
        },
    )
    assert filed.status_code == 201, filed.content
    url = "/api/v1/customers/acme/audit/"
    staff = api_for(cast.alice).get(url)
    assert staff.status_code == 200 and "B-777" in staff.content.decode()
    assert "Budget code" in staff.content.decode()
    read = api_for(cast.acme_admin).get(url)
    assert read.status_code == 200
    text = read.content.decode()
    assert "B-777" not in text and "Budget code" not in text and "budget_code" not in text
    assert "CC-12" in text and "Cost centre" in text  # what the customer sees is still there
    page = portal(cast.acme_admin).get("/audit/").content.decode()
    assert "B-777" not in page and "Budget code" not in page and "CC-12" in page
    exported = b"".join(portal(cast.acme_admin).get("/audit/entries.json").streaming_content)  # type: ignore[attr-defined]
    assert b"B-777" not in exported and b"CC-12" in exported


def test_masking_keeps_what_is_not_json() -> None:
    hidden = frozenset({"secret"})
    changes = {"fields": ["None", '{"secret": 1, "seen": 2}'], "subject": ["a", "b"]}
    assert changes_for_customer("tickets.ticket", changes, hidden) == {
        "fields": ["None", '{"seen": 2}'],
        "subject": ["a", "b"],
    }
    assert changes_for_customer("tickets.comment", changes, hidden) is changes


def test_the_library_refuses_what_a_type_refuses(cast: Cast) -> None:
    long = "x" * (services.DESCRIPTION_MAX + 1)
    with pytest.raises(ValidationError) as library:
        services.library_save(entry=None, values={"name": "Laptop", "description": long})
    with customer_schema(cast.acme), pytest.raises(ValidationError) as own:
        services.request_type_create(
            customer=cast.acme, by=cast.alice, values=services.TypeValues(name="Laptop", description=long)
        )
    assert (
        library.value.message_dict == own.value.message_dict == {"description": ["At most 2000 characters."]}
    )
    with pytest.raises(ValidationError) as priority:
        services.library_save(entry=None, values={"name": "Laptop", "priority": "P9"})
    assert priority.value.message_dict == {"priority": ["Use P1, P2, P3, P4 or null."]}
    saved = services.library_save(
        entry=None, values={"name": " Laptop ", "description": " d ", "priority": None}
    )
    assert (saved.name, saved.description, saved.priority) == ("Laptop", "d", "")


@pytest.mark.parametrize(
    ("text", "number"),
    [("12", 12), ("-4.5", -4.5), (" 2.0 ", 2), ("1e3", None), ("4.", None), ("abc", None), ("1" * 17, None)],
)
def test_one_parser_of_numbers(text: str, number: int | float | None) -> None:
    parsed = parse_number(text)
    assert parsed == number and type(parsed) is type(number)


def test_is_empty() -> None:
    empty: list[object] = [None, "", []]
    full: list[object] = [0, False, "x", ["a"]]
    assert all(is_empty(value) for value in empty)
    assert not any(is_empty(value) for value in full)
