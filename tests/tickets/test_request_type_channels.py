"""Request types through the other channels (issue 19): email (the address's default type,
``Label: value`` lines, bad values to triage naming the field), the console and the portal
(the form's errors name the field), and the reports' CSV."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from mail.models import InboundMessage, State
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.mail.test_routing import INBOUND, deliver, mail
from tests.support.clients import console, portal
from tests.tickets.test_request_types import GOOD, make_type
from tickets.models import Comment, RequestType, Ticket

pytestmark = pytest.mark.django_db

EMAIL_URL = "/api/v1/customers/acme/email/"


def email_ticket(cast: Cast, message: InboundMessage) -> Ticket:
    assert message.ticket_id is not None, (message.state, message.reason, message.trace)
    with customer_schema(cast.acme):
        return Ticket.objects.get(pk=message.ticket_id)


def notes_of(cast: Cast, ticket: Ticket) -> list[str]:
    with customer_schema(cast.acme):
        return list(Comment.objects.filter(ticket=ticket, public=False).values_list("body", flat=True))


# --- email --------------------------------------------------------------------------------------------


def test_the_mail_settings_name_a_default_type(cast: Cast) -> None:
    request_type = make_type(cast)
    admin = api_for(cast.alice)
    assert admin.get(EMAIL_URL).json()["default_request_type"] is None
    response = admin.patch(EMAIL_URL, {"default_request_type": "New starter"}, format="json")
    assert response.status_code == 200 and response.json()["default_request_type"] == request_type.pk
    unknown = admin.patch(EMAIL_URL, {"default_request_type": 999}, format="json")
    assert unknown.status_code == 400 and list(unknown.json()["fields"]) == ["default_request_type"]
    assert (
        admin.patch(EMAIL_URL, {"default_request_type": None}, format="json").json()["default_request_type"]
        is None
    )


def test_the_mail_settings_page_chooses_the_default_type(cast: Cast) -> None:
    request_type = make_type(cast)
    page = console(cast.alice).get("/customers/acme/email/").content.decode()
    assert 'name="default_request_type"' in page and "New starter" in page
    post = {"domains": "acme.test", "default_request_type": str(request_type.pk)}
    assert console(cast.alice).post("/customers/acme/email/", post).status_code == 302
    assert api_for(cast.alice).get(EMAIL_URL).json()["default_request_type"] == request_type.pk
    refused = console(cast.alice).post("/customers/acme/email/", {**post, "default_request_type": "999"})
    assert refused.status_code == 400


def test_an_email_ticket_takes_the_default_type_and_its_values(cast: Cast) -> None:
    request_type = make_type(cast)
    api_for(cast.alice).patch(EMAIL_URL, {"default_request_type": request_type.pk}, format="json")
    body = "Hello,\nCost centre: CC-12\nstart_date: 2026-12-01\nLaptop: Mac\nBudget code: B-1\nThanks"
    ticket = email_ticket(cast, deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body=body)))
    assert ticket.request_type_id == request_type.pk
    # the hidden field is not the customer's to set: "Budget code:" is plain text to the form
    assert ticket.fields == GOOD
    assert notes_of(cast, ticket) == []


def test_required_fields_cannot_come_by_email_the_ticket_notes_them(cast: Cast) -> None:
    request_type = make_type(cast)
    api_for(cast.alice).patch(EMAIL_URL, {"default_request_type": request_type.pk}, format="json")
    ticket = email_ticket(
        cast, deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body="Laptop: Windows"))
    )
    assert ticket.request_type_id == request_type.pk and ticket.fields == {"laptop": "Windows"}
    assert notes_of(cast, ticket) == ["Required fields this mail did not give: Cost centre, Start date."]


def test_an_invalid_value_by_email_goes_to_triage_naming_the_field(cast: Cast) -> None:
    request_type = make_type(cast)
    api_for(cast.alice).patch(EMAIL_URL, {"default_request_type": request_type.pk}, format="json")
    body = "Cost centre: CC-12\nStart date: next monday\nLaptop: Mac"
    got = deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body=body))
    assert got.state == State.TRIAGE and got.ticket_id is None  # kept, never lost
    assert got.reason.startswith("refused: Start date: enter a date such as 2026-11-21")
    # an agent sends it on from triage: the bad value is left out and named in a note
    sent = api_for(cast.alice).post(
        f"/api/v1/email/triage/{got.pk}/assign/", {"customer": "acme"}, format="json"
    )
    assert sent.status_code == 201, sent.content
    ticket = email_ticket(cast, InboundMessage.objects.get(pk=got.pk))
    assert ticket.fields == {"cost_centre": "CC-12", "laptop": "Mac"}
    assert notes_of(cast, ticket) == [
        "Values left out of this mail: Start date: enter a date such as 2026-11-21 (got 'next monday'). "
        "Required fields this mail did not give: Start date."
    ]


def test_without_a_default_type_mail_opens_plain_tickets(cast: Cast) -> None:
    make_type(cast)
    ticket = email_ticket(cast, deliver(mail(cast.acme_user.email, f"acme@{INBOUND}", body="Laptop: Linux")))
    assert ticket.request_type_id is None and ticket.fields == {}


# --- the console and the portal ------------------------------------------------------------------------


def test_the_portal_asks_for_the_type_then_shows_its_form(cast: Cast) -> None:
    request_type = make_type(cast)
    page = portal(cast.acme_user).get("/tickets/new/").content.decode()
    assert 'id="type-step"' in page and "New starter" in page and 'id="type-fields"' not in page
    form = portal(cast.acme_user).get(f"/tickets/new/?type={request_type.pk}").content.decode()
    assert 'name="field.cost_centre"' in form and 'name="field.laptop"' in form
    assert "field.budget_code" not in form  # not the customer's to see
    # a customer without types sees the default form, no type step
    plain = portal(cast.globex_user).get("/tickets/new/").content.decode()
    assert 'id="type-step"' not in plain and 'name="subject"' in plain


def test_an_invalid_value_is_a_form_error_naming_the_field_in_the_portal(cast: Cast) -> None:
    request_type = make_type(cast)
    post = {
        "subject": "Welcome Dana",
        "request_type": str(request_type.pk),
        "field.cost_centre": "CC-12",
        "field.start_date": "31/12/2026",
        "field.laptop": "Mac",
    }
    response = portal(cast.acme_user).post("/tickets/new/", post)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="field-start_date-errors"' in page
    assert "Start date: enter a date such as 2026-11-21 (got &#x27;31/12/2026&#x27;)." in page
    assert 'value="CC-12"' in page  # what was typed is kept
    post["field.start_date"] = "2026-12-31"
    filed = portal(cast.acme_user).post("/tickets/new/", post)
    assert filed.status_code == 302
    with customer_schema(cast.acme):
        ticket = Ticket.objects.get(subject="Welcome Dana")
    assert ticket.fields == {"cost_centre": "CC-12", "start_date": "2026-12-31", "laptop": "Mac"}
    shown = portal(cast.acme_user).get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="ticket-field-values"' in shown and "CC-12" in shown


def test_an_invalid_value_is_a_form_error_naming_the_field_in_the_console(cast: Cast) -> None:
    request_type = make_type(cast)
    new_url = "/customers/acme/tickets/new/"
    assert (
        'name="field.budget_code"'
        in console(cast.bob).get(f"{new_url}?type={request_type.pk}").content.decode()
    )
    post = {
        "subject": "Welcome Dana",
        "request_type": str(request_type.pk),
        "field.cost_centre": "CC-12",
        "field.start_date": "2026-12-31",
        "field.desks": "two",
    }
    response = console(cast.bob).post(new_url, post)
    assert response.status_code == 400
    assert "Desks: enter a number such as 12 or 4.5 (got &#x27;two&#x27;)." in response.content.decode()
    post["field.desks"] = "2"
    assert console(cast.bob).post(new_url, post).status_code == 302
    with customer_schema(cast.acme):
        ticket = Ticket.objects.get(subject="Welcome Dana")
    assert ticket.fields["desks"] == 2
    # the agent changes a value on the ticket page; a bad one is the page again, 400, naming it
    fields_url = f"/customers/acme/tickets/{ticket.pk}/fields/"
    refused = console(cast.bob).post(fields_url, {"field.cost_centre": "CC-12", "field.start_date": "soon"})
    assert refused.status_code == 400 and "Start date: enter a date" in refused.content.decode()
    saved = console(cast.bob).post(
        fields_url,
        {"field.cost_centre": "CC-99", "field.start_date": "2026-12-31", "field.budget_code": "B-1"},
    )
    assert saved.status_code == 302
    with customer_schema(cast.acme):
        ticket.refresh_from_db()
    assert ticket.fields == {"cost_centre": "CC-99", "start_date": "2026-12-31", "budget_code": "B-1"}


def test_the_admin_builds_a_type_in_the_console(cast: Cast) -> None:
    url = "/customers/acme/request-types/"
    assert console(cast.bob).get(url).status_code == 200  # staff read
    post = {
        "name": "Hardware fault",
        "priority": "P2",
        "active": "on",
        "fields-TOTAL_FORMS": "2",
        "fields-INITIAL_FORMS": "0",
        "fields-0-key": "asset_tag",
        "fields-0-label": "Asset tag",
        "fields-0-kind": "text",
        "fields-0-required": "on",
        "fields-0-customer_visible": "on",
        "fields-1-key": "",
        "fields-1-label": "",
        "fields-1-kind": "text",
        "fields-1-customer_visible": "on",
    }
    assert console(cast.bob).post(url, post).status_code == 403
    assert console(cast.alice).post(url, post).status_code == 302
    with customer_schema(cast.acme):
        created = RequestType.objects.select_related("form").get(name="Hardware fault")
    assert created.priority == "P2" and created.form is not None
    assert [item["key"] for item in created.form.definitions] == ["asset_tag"]
    bad = {**post, "name": "Other", "fields-0-key": "Asset Tag"}
    response = console(cast.alice).post(url, bad)
    assert response.status_code == 400 and "must start with a-z" in response.content.decode()


# --- reports ---------------------------------------------------------------------------------------


def test_the_service_report_exports_the_custom_values_the_customer_sees(cast: Cast) -> None:
    request_type = make_type(cast)
    with time_machine.travel(datetime(2026, 11, 10, 9, tzinfo=UTC), tick=False):
        filed = api_for(cast.bob).post(
            "/api/v1/customers/acme/tickets/",
            {
                "subject": "Welcome Dana",
                "request_type": request_type.pk,
                "fields": {**GOOD, "desks": 2, "budget_code": "B-7"},
            },
            format="json",
        )
        assert filed.status_code == 201, filed.content
    with time_machine.travel(datetime(2026, 12, 2, 12, tzinfo=UTC), tick=False):
        url = "/api/v1/reports/customers/acme/2026-11/"
        report = api_for(cast.bob).get(url).json()
        csv_text = api_for(cast.bob).get(url + "?format=csv").content.decode()
    reference = filed.json()["number"]
    assert report["request_fields"] == [
        {
            "ticket": filed.json()["id"],
            "reference": reference,
            "request_type": "New starter",
            "fields": [
                {"key": "cost_centre", "label": "Cost centre", "value": "CC-12"},
                {"key": "start_date", "label": "Start date", "value": "2026-12-01"},
                {"key": "laptop", "label": "Laptop", "value": "Mac"},
                {"key": "desks", "label": "Desks", "value": "2"},
            ],
        }
    ]  # the internal budget code is not the customer's to read
    assert f"request_fields,{reference},request_type,New starter" in csv_text
    assert f"request_fields,{reference},laptop,Mac" in csv_text and "B-7" not in csv_text
