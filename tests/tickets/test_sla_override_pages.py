"""The console ticket page's SLA override: a preview of the due times the engine would give
(the save rehearsed, nothing kept), then the save through ``ticket_override_sla``. Provider
staff only."""

from __future__ import annotations

import pytest

from sla.models import SlaPolicy
from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console
from tickets import workflows
from tickets.models import Ticket

FAST = {priority: {"first_response": 15, "resolution": 60} for priority in ("P1", "P2", "P3", "P4")}


@pytest.fixture
def ticket(cast: Cast, actor: None) -> Ticket:
    with customer_schema(cast.acme):
        return workflows.ticket_create(
            customer=cast.acme, by=cast.acme_user, new=workflows.NewTicket(subject="VPN", description="down")
        )


@pytest.fixture
def fast(db: None, actor: None) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(name="Fast lane", targets=FAST)
    return policy


def _reload(cast: Cast, ticket: Ticket) -> Ticket:
    with customer_schema(cast.acme):
        return Ticket.objects.get(pk=ticket.pk)


def test_preview_shows_the_engines_due_times_and_saves_nothing(
    cast: Cast, ticket: Ticket, fast: SlaPolicy
) -> None:
    before = _reload(cast, ticket)
    url = f"/customers/acme/tickets/{ticket.pk}/sla/preview/"
    response = console(cast.alice).post(url, {"sla_policy": str(fast.pk)}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "Fast lane" in html and "Ticket override" in html
    assert "Due after saving" in html and 'id="sla-preview"' in html
    after = _reload(cast, ticket)
    assert after.sla_source == before.sla_source and after.resolution_due == before.resolution_due
    assert after.sla_policy_id is None  # nothing was kept


def test_preview_without_htmx_shows_the_ticket_page_with_it(
    cast: Cast, ticket: Ticket, fast: SlaPolicy
) -> None:
    url = f"/customers/acme/tickets/{ticket.pk}/sla/preview/"
    html = console(cast.bob).post(url, {"sla_policy": str(fast.pk)}).content.decode()
    assert "Due after saving" in html and "SLA override" in html


def test_saving_the_override(cast: Cast, ticket: Ticket, fast: SlaPolicy) -> None:
    url = f"/customers/acme/tickets/{ticket.pk}/sla/"
    assert console(cast.bob).post(url, {"sla_policy": str(fast.pk)}).status_code == 302
    saved = _reload(cast, ticket)
    assert saved.sla_policy_id == fast.pk and saved.sla_source == "ticket"
    assert saved.resolution_due is not None and saved.resolution_due < ticket.resolution_due  # type: ignore[operator]
    console(cast.bob).post(url, {"sla_policy": ""})
    assert _reload(cast, ticket).sla_source != "ticket"


def test_only_provider_staff_override_and_bad_input_is_400(
    cast: Cast, ticket: Ticket, fast: SlaPolicy
) -> None:
    for path in ("sla/", "sla/preview/"):
        url = f"/customers/acme/tickets/{ticket.pk}/{path}"
        assert console(cast.acme_it).post(url, {"sla_policy": str(fast.pk)}).status_code == 403
        assert console(cast.alice).post(url, {"sla_policy": "\u00b2"}).status_code == 400
        assert console(cast.charlie).post(url, {"sla_policy": str(fast.pk)}).status_code == 404
    assert _reload(cast, ticket).sla_policy_id is None
    page = console(cast.acme_it).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert "sla-preview-button" not in page
