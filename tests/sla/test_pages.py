"""SLA on the pages: the queue's countdown column, the console ticket's SLA card (why, clocks,
timeline, recorded breaches; refreshed by the HTMX panel), the re-apply page (preview, confirm,
stale), the simulator page, the portal's commitment, and who may open which page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from accounts.models import User
from sla.models import SlaPolicy
from tenants.schema import customer_schema
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast
from tests.sla.conftest import change, london, make_policy, open_ticket, reply, uk_office
from tests.support.clients import console, portal
from tickets.models import Ticket
from tickets.sla.sweep import sla_sweep

pytestmark = pytest.mark.django_db


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def in_berlin(*users: User) -> None:
    """Pages show times in the viewer's zone: make it one that differs from UTC."""
    for user in users:
        user.timezone = "Europe/Berlin"
        user.save(update_fields=["timezone"])


def default_for_acme(cast: Cast, policy: SlaPolicy) -> None:
    customer_update(customer=cast.acme, changes=CustomerChanges(default_sla=policy))
    cast.acme.refresh_from_db()


def queue_cell(page: str, number: str) -> str:
    row = page.split(f'data-ticket="{number}"', 1)[1].split("</tr>", 1)[0]
    cell = row.split('<td class="sla ', 1)[1].split("</td>", 1)[0]
    state, content = cell.split('"', 1)[0], cell.split(">", 1)[1]
    return f'{state}">{content}'  # the state's class, then what the cell says


@pytest.fixture
def fast(cast: Cast) -> SlaPolicy:
    """24x7: P1 resolves in 85 min, P3 in 240 (the pause example of sla.md)."""
    policy = make_policy(
        "Fast 24x7",
        P1={"first_response": 30, "resolution": 85},
        P3={"first_response": 600, "resolution": 240},
    )
    default_for_acme(cast, policy)
    return policy


# --- the queue ---------------------------------------------------------------------------------------


def test_queue_counts_down_to_the_running_clock_due_first_in_the_viewers_zone(
    cast: Cast, fast: SlaPolicy, clock: Any
) -> None:
    in_berlin(cast.bob)
    clock(utc(2026, 11, 24, 10, 0))
    later = open_ticket(cast.acme, cast.acme_user, "Printer slow", priority="P3")  # due 14:00Z
    late = open_ticket(cast.acme, cast.acme_user, "Server down", priority="P1")  # due 11:25Z
    waiting = open_ticket(cast.acme, cast.acme_user, "Which cable?", priority="P3")
    reply(cast.acme, waiting, cast.bob, "Which cable is it?")
    change(cast.acme, waiting, cast.bob, status="pending")
    clock(utc(2026, 11, 24, 11, 50))
    page = console(cast.bob).get("/").content.decode()
    numbers = {t.pk: f"ACME-{t.number}" for t in (later, late, waiting)}

    # each row shows its running clock due first: resolution for the P3 (first response is due
    # at 20:00Z), first response for the P1 (due 10:30Z, before its resolution at 11:25Z)
    due = queue_cell(page, numbers[later.pk])
    assert due.startswith('sla-on_track"') and "due in 2 h 10 min" in due
    assert 'title="Resolution due 2026-11-24T14:00:00Z"' in due and "Tue 24 Nov 15:00" in due  # Berlin
    overdue = queue_cell(page, numbers[late.pk])
    assert overdue.startswith('sla-breached"') and "overdue 1 h 20 min" in overdue
    assert 'datetime="2026-11-24T10:30:00Z"' in overdue and "First response" in overdue
    assert queue_cell(page, numbers[waiting.pk]).startswith('sla-paused">paused')
    # next due first is the console's default order, and the sort control says so
    positions = [page.index(f'data-ticket="{numbers[t.pk]}"') for t in (late, later, waiting)]
    assert positions == sorted(positions)
    assert re.search(r'<option value="next_due"\s+selected>Next due \(either clock\)</option>', page)
    # the HTMX partial and a customer's page carry the column too
    partial = console(cast.bob).get("/?priority=P1", HTTP_HX_REQUEST="true").content.decode()
    assert "overdue 1 h 20 min" in partial and "<html" not in partial
    assert "due in 2 h 10 min" in console(cast.bob).get("/customers/acme/").content.decode()


def test_queue_says_dash_without_a_due_time_and_stopped_once_resolved(
    cast: Cast, fast: SlaPolicy, clock: Any
) -> None:
    clock(utc(2026, 11, 24, 10, 0))
    done = open_ticket(cast.acme, cast.acme_user, "Done already")
    change(cast.acme, done, cast.bob, status="resolved")
    page = console(cast.bob).get("/?status=resolved").content.decode()
    assert queue_cell(page, f"ACME-{done.number}").startswith('sla-stopped">stopped')


# --- the console ticket page ------------------------------------------------------------------------


def test_ticket_page_explains_why_with_the_deciding_level_and_the_timeline(
    cast: Cast, fast: SlaPolicy, clock: Any
) -> None:
    in_berlin(cast.bob)
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, "Printer jam")
    clock(utc(2026, 11, 24, 11, 0))
    reply(cast.acme, ticket, cast.bob, "Which printer is it?")
    change(cast.acme, ticket, cast.bob, status="pending")  # 60 minutes used
    clock(utc(2026, 11, 24, 13, 0))
    reply(cast.acme, ticket, cast.acme_user, "The one on floor 2.")  # open again: due 16:00Z
    clock(utc(2026, 11, 24, 13, 30))
    page = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    card = page.split('id="ticket-sla"', 1)[1].split("</section>", 1)[0]

    assert "SLA · Fast 24x7" in card and "Why this SLA" in card
    assert "Customer default: customer Acme has default &#x27;Fast 24x7&#x27;" in card
    chain = re.findall(r'<li data-source="(\w+)"( class="decides")?', card)
    assert [source for source, _ in chain] == [
        "ticket",
        "requester",
        "ci",
        "request_type",
        "contract",
        "customer",
        "default",
    ]
    assert [bool(decides) for _, decides in chain] == [False, False, False, False, False, True, False]
    resolution = card.split('data-clock="resolution"', 1)[1].split("</tr>", 1)[0]
    assert 'title="2026-11-24T16:00:00Z"' in resolution and "Tue 24 Nov 2026, 17:00" in resolution
    assert "due in 2 h 30 min" in resolution
    first_response = card.split('data-clock="first_response"', 1)[1].split("</tr>", 1)[0]
    assert "met" in first_response  # stopped by the reply at 11:00, due 20:00
    segments = re.findall(r'<tr data-state="(\w+)">.*?(\d+\.\d+) min</td>', card, flags=re.S)
    assert segments == [("running", "60.0"), ("paused", "120.0"), ("running", "30.0")]
    assert cast.bob.name in card and "Which printer is it?" in card  # who paused and why
    assert "None recorded yet." in card
    # the side panel sums it up
    panel = page.split('id="ticket-panel"', 1)[1].split("</aside>", 1)[0]
    assert "Fast 24x7" in panel and "due in 2 h 30 min" in panel


def test_ticket_page_shows_breaches_with_their_instant_and_the_events_recorded(
    cast: Cast, fast: SlaPolicy, clock: Any
) -> None:
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, "Slow laptop", priority="P3")
    clock(utc(2026, 11, 24, 12, 0))
    change(cast.acme, ticket, cast.bob, priority="P1")  # 120 min used of a new 85: breached at 11:25
    sla_sweep()
    page = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    resolution = page.split('<tr data-clock="resolution"', 1)[1].split("</tr>", 1)[0]
    assert "breached" in resolution and 'class="tone-bad" datetime="2026-11-24T11:25:00Z"' in resolution
    events = page.split("Warnings and breaches recorded", 1)[1].split("</ul>", 1)[0]
    assert "Resolution breach at" in events and 'datetime="2026-11-24T11:25:00Z"' in events
    assert "First response breach at" in events  # 30 min target, no reply: 10:30


def test_the_htmx_panel_brings_the_new_due_times_with_it(cast: Cast, fast: SlaPolicy, clock: Any) -> None:
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, "Mail bounces", priority="P3")
    clock(utc(2026, 11, 24, 10, 30))
    response = console(cast.bob).post(
        f"/customers/acme/tickets/{ticket.pk}/change/", {"priority": "P1"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="ticket-panel"' in body
    card = body.split('<section id="ticket-sla"', 1)[1]
    assert card.split(">", 1)[0].strip().endswith('hx-swap-oob="true"')  # replaces the page's card
    assert 'title="2026-11-24T11:25:00Z"' in card and "due in 55 min" in card
    full = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert "hx-swap-oob" not in full and full.count('id="ticket-sla"') == 1


# --- re-apply ------------------------------------------------------------------------------------------


def test_reapply_page_previews_confirms_and_refuses_a_stale_preview(cast: Cast, clock: Any) -> None:
    policy = make_policy("Reapplied", P3={"first_response": 60, "resolution": 600})
    default_for_acme(cast, policy)
    clock(utc(2026, 11, 24, 10, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, "Moves with the policy")
    policy.targets = {**policy.targets, "P3": {"first_response": 60, "resolution": 300}}
    policy.save()
    client = console(cast.alice)
    assert "/customers/acme/sla/reapply/" in client.get("/customers/acme/").content.decode()
    assert "/sla/reapply/" not in console(cast.bob).get("/customers/acme/").content.decode()

    preview = client.get("/customers/acme/sla/reapply/")
    body = preview.content.decode()
    assert preview.status_code == 200
    row = body.split(f'data-ticket="ACME-{ticket.number}"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/customers/acme/tickets/{ticket.pk}/"' in row and "Moves with the policy" in row
    assert "Reapplied → <strong>Reapplied</strong>" in row and "-300 min" in row
    assert 'title="2026-11-24T20:00:00Z"' in row and 'title="2026-11-24T15:00:00Z"' in row
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', body)
    assert fingerprint is not None

    stale = client.post("/customers/acme/sla/reapply/", {"fingerprint": "0" * 32})
    assert stale.status_code == 409
    stale_body = stale.content.decode()
    assert "changed since this preview" in stale_body
    assert f'value="{fingerprint.group(1)}"' in stale_body  # a fresh preview to confirm instead
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket.pk).resolution_due == utc(2026, 11, 24, 20, 0)

    applied = client.post("/customers/acme/sla/reapply/", {"fingerprint": fingerprint.group(1)})
    applied_body = applied.content.decode()
    assert applied.status_code == 200 and "Re-applied: 1 ticket moved" in applied_body
    assert "Nothing to re-apply" in applied_body
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket.pk).resolution_due == utc(2026, 11, 24, 15, 0)


# --- the simulator ------------------------------------------------------------------------------------

SIMULATOR = "/sla/simulator/"
TARGETS_240 = '{"P1": {"first_response": 240, "resolution": 240}, "P2": {"first_response": 240, "resolution": 240}, "P3": {"first_response": 240, "resolution": 240}, "P4": {"first_response": 240, "resolution": 240}}'  # noqa: E501


def test_simulator_page_runs_the_pause_example_in_the_viewers_zone(cast: Cast) -> None:
    in_berlin(cast.alice)
    client = console(cast.alice)
    form = client.get(SIMULATOR)
    assert form.status_code == 200 and 'name="events"' in form.content.decode()
    response = client.post(
        SIMULATOR,
        {
            "policy": "",
            "business_hours": "",
            "targets": TARGETS_240,
            "priority": "P3",
            "created_at": "2026-11-24T11:00",  # no offset: Berlin, so 10:00Z
            "events": "2026-11-24T11:00Z pending\n\n2026-11-24T13:00Z open\n",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200, body
    result = body.split('id="simulation"', 1)[1]
    resolution = result.split('data-clock="Resolution"', 1)[1].split("</tr>", 1)[0]
    assert 'title="2026-11-24T16:00:00Z"' in resolution and "Tue 24 Nov 2026, 17:00" in resolution
    assert re.findall(r'<tr data-state="(\w+)">', result) == ["running", "paused", "running"]
    assert "120.0 min" in result


def test_simulator_page_with_a_profile_and_a_policy(cast: Cast) -> None:
    office = uk_office()
    policy = make_policy("UK office SLA", office, P2={"first_response": 480, "resolution": 480})
    client = console(cast.alice)
    by_profile = client.post(
        SIMULATOR,
        {
            "business_hours": str(office.pk),
            "targets": TARGETS_240.replace("240", "480"),
            "priority": "P2",
            "created_at": "2026-12-24T15:00Z",
        },
    ).content.decode()
    assert 'title="2026-12-29T15:00:00Z"' in by_profile  # Fri 25 and Mon 28 are holidays
    by_policy = client.post(
        SIMULATOR, {"policy": str(policy.pk), "priority": "P2", "created_at": "2026-12-24T15:00Z"}
    ).content.decode()
    assert "Result · UK office SLA" in by_policy and 'title="2026-12-29T15:00:00Z"' in by_policy


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events": "2026-11-24T11:00Z"}, "events line 1: write an instant and a status"),
        ({"events": "# comment\n2026-11-24T11:00Z sleeping"}, "events line 2 (status)"),
        ({"events": "2026-11-24T09:00Z pending"}, "events line 1 (at)"),
        ({"targets": "{not json"}, "targets: write JSON"),
        ({"created_at": "yesterday"}, "created_at:"),
        ({"priority": "P9"}, "priority:"),
    ],
)
def test_simulator_page_names_what_is_wrong(cast: Cast, changes: dict[str, str], message: str) -> None:
    data = {"targets": TARGETS_240, "priority": "P3", "created_at": "2026-11-24T10:00Z", **changes}
    response = console(cast.alice).post(SIMULATOR, data)
    body = response.content.decode()
    assert response.status_code == 400 and message in body, body
    assert 'id="simulation"' not in body


# --- the portal ----------------------------------------------------------------------------------------


def test_portal_shows_the_commitment_due_times_pauses_and_the_breach(cast: Cast, clock: Any) -> None:
    office = make_policy("UK office SLA", uk_office())
    default_for_acme(cast, office)
    in_berlin(cast.acme_user)
    clock(london(2026, 11, 23, 9, 0))
    ticket = open_ticket(cast.acme, cast.acme_user, "Cannot log in", priority="P3")
    url = f"/tickets/{ticket.pk}/"
    first = portal(cast.acme_user).get(url).content.decode()
    promise = "first response within 4 h of business time and resolution within 24 h of business time"
    assert promise in first and "UK office SLA" in first
    assert 'title="2026-11-23T13:00:00Z"' in first and "Mon 23 Nov 2026, 14:00" in first  # Berlin
    clock(london(2026, 11, 23, 10, 0))
    reply(cast.acme, ticket, cast.bob, "Which account?")
    change(cast.acme, ticket, cast.bob, status="pending")
    clock(london(2026, 11, 23, 11, 0))
    reply(cast.acme, ticket, cast.acme_user, "My main one.")
    clock(london(2026, 11, 23, 14, 30))
    ticket = change(cast.acme, ticket, cast.bob, priority="P1")  # 240 used of P1's 240 at 14:00
    assert ticket.resolution_breached_at == london(2026, 11, 23, 14, 0)
    page = portal(cast.acme_user).get(url).content.decode()
    card = page.split('id="ticket-sla"', 1)[1].split("</section>", 1)[0]
    assert "resolution within 4 h of business time" in card
    assert "done in time" in card.split('data-clock="first_response"', 1)[1].split("</dd>", 1)[0]
    assert "The target was missed at" in card and 'title="2026-11-23T14:00:00Z"' in card
    assert "Mon 23 Nov 2026, 15:00" in card
    assert "1 h of business time did not count" in card
    pauses = card.split('class="sla-pauses"', 1)[1]
    assert 'title="2026-11-23T10:00:00Z"' in pauses and 'title="2026-11-23T11:00:00Z"' in pauses
    # nothing of how the policy was chosen, nor of the agents' side
    for internal in ("Why this SLA", "sla-chain", "customer Acme has default", "Which account?</td>"):
        assert internal not in page.split("</head>", 1)[1]
    assert portal(cast.globex_user).get(url).status_code == 404


# --- who may open what ------------------------------------------------------------------------------


def test_admin_tools_are_403_for_provider_agents_and_404_for_everyone_else(cast: Cast) -> None:
    ticket = open_ticket(cast.acme, cast.acme_user, "Acme secret subject")
    reapply, ticket_page = "/customers/acme/sla/reapply/", f"/customers/acme/tickets/{ticket.pk}/"
    assert console(cast.alice).get(reapply).status_code == 200
    assert console(cast.alice).get(SIMULATOR).status_code == 200
    assert console(cast.bob).get(reapply).status_code == 403
    assert console(cast.bob).post(reapply, {"fingerprint": "x"}).status_code == 403
    assert console(cast.bob).get(SIMULATOR).status_code == 200  # it changes nothing: staff may check
    # charlie works Globex only: Acme does not exist for him
    for path in (reapply, ticket_page):
        response = console(cast.charlie).get(path)
        assert response.status_code == 404 and "Acme secret subject" not in response.content.decode()
    assert console(cast.charlie).post(reapply, {"fingerprint": "x"}).status_code == 404
    assert console(cast.charlie).get(SIMULATOR).status_code == 200
    # a customer's own agent works tickets in the console, but these tools are the provider's
    for path in (reapply, SIMULATOR):
        assert console(cast.acme_it).get(path).status_code == 404, path
    # customer users and admins have no console session at all (sent to sign in), and the
    # console's paths do not exist on their portals
    for user in (cast.acme_user, cast.acme_admin, cast.globex_user, cast.globex_admin):
        for path in (reapply, SIMULATOR, ticket_page):
            response = console(user).get(path)
            assert response.status_code == 302 and response["Location"].startswith("/login/"), path
            assert portal(user).get(path).status_code == 404, path
