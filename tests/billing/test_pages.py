"""The console's billing pages: Admin → Day passes (pool, buying with a confirmation step, the
consumption log, its CSV export) and Admin → Licences (a month's report and its chart), through
Django's test client on the real hosts. Provider admins only: agents get 403 on every page,
customer agents 404, customer users never reach them."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create
from billing import services
from billing.models import Channel, DayPassConsumption, DayPassPurchase
from core.csvfiles import csv_cell
from tests.conftest import PASSWORD, Cast
from tests.support.clients import console, portal

DAY_PASSES = "/billing/day-passes/"
BUY = "/billing/day-passes/buy/"
CSV = "/billing/day-passes/log.csv"
LICENCES = "/billing/licences/"


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no figure {name}"
    return match.group(1).strip()


def _messages(html: str) -> str:
    start = html.index('class="messages"')
    return html[start : html.index("</ul>", start)]


def _used(agent: User, day: date, *, zone: str = "UTC", channel: str = Channel.CONSOLE) -> DayPassConsumption:
    """A pass ``agent`` used on ``day`` at 09:00 in ``zone`` (written straight into the ledger)."""
    local_zone = ZoneInfo(zone)
    row: DayPassConsumption = DayPassConsumption.objects.create(
        agent=agent,
        local_date=day,
        timezone=zone,
        consumed_at=datetime.combine(day, time(9), tzinfo=local_zone),
        valid_until=services.next_local_midnight(day, local_zone),
        channel=channel,
    )
    return row


def _occasional(email: str, name: str) -> User:
    fields = AgentFields(email=email, name=name, licence=Licence.OCCASIONAL, timezone="Europe/Paris")
    return agent_create(fields=fields, password=PASSWORD)


def _confirmed(confirmation: str) -> dict[str, str]:
    """What the confirmation page's form posts."""
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirmation)
    assert {name for name, _ in fields} == {
        "csrfmiddlewaretoken",
        "quantity",
        "unit_price",
        "after",
        "confirm",
    }
    return dict(fields)


def _csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- the pool and the log -------------------------------------------------------------------------


def test_admin_sees_the_pool_and_who_used_passes(cast: Cast) -> None:
    console(cast.charlie)  # Charlie presses Proceed: one pass from the pool
    pool = services.pool()
    page = console(cast.alice).get(DAY_PASSES)
    html = page.content.decode()
    assert page.status_code == 200
    assert _figure(html, "balance") == str(pool.balance)
    assert _figure(html, "purchased") == str(pool.purchased)
    assert _figure(html, "consumed") == str(pool.consumed)
    assert "6.00 EUR" in html  # the unit price
    row = html[html.index('data-agent="charlie@msp.test"') :]
    row = row[: row.index("</tr>")]
    today = timezone.now().date().isoformat()
    assert f'data-date="{today}"' in row and "Console" in row and "state-active" in row
    # The nav offers both billing pages to admins only.
    assert 'href="/billing/day-passes/"' in html and 'href="/billing/licences/"' in html
    assert 'href="/billing/day-passes/"' not in console(cast.bob).get("/").content.decode()


def test_the_log_filters_by_agent_and_local_dates(cast: Cast, actor: None) -> None:
    dora = _occasional("dora@msp.test", "Dora")
    _used(cast.charlie, date(2026, 10, 5))
    _used(cast.charlie, date(2026, 10, 20))
    _used(dora, date(2026, 10, 20), zone="Europe/Paris")
    client = console(cast.alice)

    def agents_and_dates(query: str) -> list[tuple[str, str]]:
        response = client.get(f"{DAY_PASSES}?{query}")
        assert response.status_code == 200
        return re.findall(r'data-agent="([^"]+)" data-date="([^"]+)"', response.content.decode())

    assert agents_and_dates(f"agent={dora.pk}") == [("dora@msp.test", "2026-10-20")]
    assert agents_and_dates("agent=charlie@msp.test&from=2026-10-01&to=2026-10-31") == [
        ("charlie@msp.test", "2026-10-20"),
        ("charlie@msp.test", "2026-10-05"),
    ]
    assert agents_and_dates("from=2026-10-06&to=2026-10-20") == [  # the latest first: 09:00 UTC, 09:00 CEST
        ("charlie@msp.test", "2026-10-20"),
        ("dora@msp.test", "2026-10-20"),
    ]
    # Times are shown in the pass's own zone, whoever looks (Alice's zone is UTC).
    html = client.get(f"{DAY_PASSES}?agent={dora.pk}").content.decode()
    assert ">09:00 CEST</time>" in html and ">Wed 21 Oct 00:00 CEST</time>" in html
    assert 'datetime="2026-10-20T07:00:00Z"' in html and 'datetime="2026-10-20T22:00:00Z"' in html
    # The agent filter offers the people who used passes.
    html = client.get(DAY_PASSES).content.decode()
    assert f'<option value="{dora.pk}"' in html and f'<option value="{cast.bob.pk}"' not in html
    # A filter the page cannot read: 400, saying which one; HTMX gets just the log.
    bad = client.get(f"{DAY_PASSES}?from=yesterday")
    assert bad.status_code == 400 and "from: Use a date such as" in bad.content.decode()
    partial = client.get(f"{DAY_PASSES}?agent={dora.pk}", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    text = partial.content.decode()
    assert text.lstrip().startswith('<div id="day-pass-log"') and "<html" not in text
    assert 'data-agent="dora@msp.test"' in text and "charlie@msp.test" not in text


def test_the_log_pages_with_constant_queries(cast: Cast, actor: None) -> None:
    client = console(cast.alice)
    client.get(DAY_PASSES)  # the first request of the day notes the admin's activity
    first = date(2026, 1, 1)
    for n in range(5):
        _used(cast.charlie, first + timedelta(days=n))
    with CaptureQueriesContext(connection) as few:
        assert client.get(DAY_PASSES).status_code == 200
    for n in range(5, 60):
        _used(cast.charlie, first + timedelta(days=n))
    with CaptureQueriesContext(connection) as many:
        html = client.get(DAY_PASSES).content.decode()
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)
    assert html.count('data-agent="charlie@msp.test"') == 50 and "Page 1 of 2" in html
    older = client.get(f"{DAY_PASSES}?agent=charlie@msp.test&page=2").content.decode()
    assert older.count('data-agent="charlie@msp.test"') == 10
    assert 'data-date="2026-01-01"' in older and 'rel="prev"' in older


# --- buying ---------------------------------------------------------------------------------------


def test_buying_shows_the_total_and_buys_only_when_confirmed(cast: Cast) -> None:
    client = console(cast.alice)
    before = services.pool()
    purchases = DayPassPurchase.objects.count()

    review = client.post(BUY, {"quantity": "25"})
    html = review.content.decode()
    assert review.status_code == 200
    assert re.search(r"data-quantity>25<", html) and "data-unit-price>6.00 EUR<" in html
    assert "data-total>150.00 EUR<" in html and 'name="confirm" value="yes"' in html
    assert DayPassPurchase.objects.count() == purchases and services.pool().balance == before.balance

    bought = client.post(BUY, _confirmed(html))
    assert bought.status_code == 302 and bought["Location"] == DAY_PASSES
    after = services.pool()
    assert after.balance == before.balance + 25 and after.purchased == before.purchased + 25
    purchase = DayPassPurchase.objects.order_by("-id").first()
    assert purchase is not None and DayPassPurchase.objects.count() == purchases + 1
    assert (purchase.quantity, purchase.unit_price, purchase.total) == (
        25,
        Decimal("6.00"),
        Decimal("150.00"),
    )
    assert purchase.bought_by == cast.alice
    page = client.get(DAY_PASSES).content.decode()
    assert f"Bought 25 day passes at 6.00 EUR each (150.00 EUR). The pool now holds {after.balance:,}" in page
    assert f'data-purchase="{purchase.pk}"' in page and _figure(page, "balance") == str(after.balance)


def test_a_confirmation_buys_once(cast: Cast, actor: None) -> None:
    """A second click on the same confirmation, or another purchase since it was shown, asks
    again instead of buying twice."""
    client = console(cast.alice)
    confirmed = _confirmed(client.post(BUY, {"quantity": "40"}).content.decode())
    purchases = DayPassPurchase.objects.count()
    assert client.post(BUY, confirmed).status_code == 302
    again = client.post(BUY, confirmed)
    html = again.content.decode()
    assert again.status_code == 409 and "Day passes were bought since this purchase was shown" in html
    assert DayPassPurchase.objects.count() == purchases + 1
    # The new confirmation is current: confirming it buys.
    assert client.post(BUY, _confirmed(html)).status_code == 302
    assert DayPassPurchase.objects.count() == purchases + 2

    shown = _confirmed(client.post(BUY, {"quantity": "3"}).content.decode())
    services.day_passes_buy(by=cast.alice, quantity=1)  # another admin, meanwhile
    assert client.post(BUY, shown).status_code == 409
    assert DayPassPurchase.objects.count() == purchases + 3


@pytest.mark.parametrize("quantity", ["0", "10001", "abc", "", "-3", "2.5"])
@pytest.mark.parametrize("confirm", [False, True])
def test_a_bad_quantity_is_refused_and_nothing_is_written(cast: Cast, quantity: str, confirm: bool) -> None:
    before = services.pool().balance
    purchases = DayPassPurchase.objects.count()
    data = {"quantity": quantity} | ({"unit_price": "6.00", "confirm": "yes"} if confirm else {})
    response = console(cast.alice).post(BUY, data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "quantity: " in _messages(html) and 'aria-invalid="true"' in html
    assert DayPassPurchase.objects.count() == purchases and services.pool().balance == before


@override_settings(DAY_PASS_PRICE=Decimal("7.50"))
def test_a_price_change_after_the_review_asks_again(cast: Cast) -> None:
    purchases = DayPassPurchase.objects.count()
    response = console(cast.alice).post(BUY, {"quantity": "10", "unit_price": "6.00", "confirm": "yes"})
    html = response.content.decode()
    assert response.status_code == 409 and "The unit price is now 7.50 EUR" in html
    assert "data-total>75.00 EUR<" in html and DayPassPurchase.objects.count() == purchases


# --- the CSV export -------------------------------------------------------------------------------


def test_the_csv_export_has_the_filtered_log(cast: Cast, actor: None) -> None:
    paris = datetime(2026, 10, 20, 7, 15, tzinfo=UTC)  # 09:15 in Paris
    services.day_pass_consume(
        user=_occasional("dora@msp.test", "Dora Dupont"), channel=Channel.API, now=paris
    )
    _used(cast.charlie, date(2026, 10, 5))
    response = console(cast.alice).get(f"{CSV}?from=2026-10-01&to=2026-10-31")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="day-passes-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    rows = _csv_rows(response)
    assert rows == [
        [
            "agent_email",
            "agent_name",
            "local_date",
            "timezone",
            "consumed_at_utc",
            "valid_until_utc",
            "channel",
            "state",
        ],
        [
            "dora@msp.test",
            "Dora Dupont",
            "2026-10-20",
            "Europe/Paris",
            "2026-10-20T07:15:00Z",
            "2026-10-20T22:00:00Z",  # midnight in Paris (CEST)
            "api",
            "expired",
        ],
        [
            "charlie@msp.test",
            "charlie",
            "2026-10-05",
            "UTC",
            "2026-10-05T09:00:00Z",
            "2026-10-06T00:00:00Z",
            "console",
            "expired",
        ],
    ]
    only_charlie = _csv_rows(console(cast.alice).get(f"{CSV}?agent={cast.charlie.pk}&to=2026-10-31"))
    assert [row[0] for row in only_charlie[1:]] == ["charlie@msp.test"]
    bad = console(cast.alice).get(f"{CSV}?to=31.10.2026")
    assert bad.status_code == 400 and "to: Use a date such as" in bad.content.decode()


def test_csv_cells_cannot_start_a_formula(cast: Cast, actor: None) -> None:
    mallory = _occasional("-mallory@msp.test", '=HYPERLINK("http://evil.test","click")')
    _used(mallory, date(2026, 10, 7))
    rows = _csv_rows(console(cast.alice).get(f"{CSV}?agent={mallory.pk}"))
    assert rows[1][:2] == ["'-mallory@msp.test", '\'=HYPERLINK("http://evil.test","click")']
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(dangerous) == f"'{dangerous}"
    for harmless in ("charlie@msp.test", "2026-10-07", "O'Brien", " =1", "", "1-2"):
        assert csv_cell(harmless) == harmless


# --- who may see billing ----------------------------------------------------------------------------


def _every_page() -> list[tuple[str, str, dict[str, str]]]:
    buy = {"quantity": "5", "unit_price": "6.00", "confirm": "yes"}
    return [
        ("get", DAY_PASSES, {}),
        ("get", f"{DAY_PASSES}?agent=charlie@msp.test", {}),
        ("post", BUY, {"quantity": "5"}),
        ("post", BUY, buy),
        ("get", BUY, {}),
        ("get", CSV, {}),
        ("get", LICENCES, {}),
        ("get", f"{LICENCES}?month=2026-10", {}),
    ]


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_provider_agents_get_403_on_every_billing_page(cast: Cast, who: str) -> None:
    client = console(getattr(cast, who))  # Charlie, occasional, has his day pass
    purchases = DayPassPurchase.objects.count()
    for method, url, data in _every_page():
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, url
        # Reads say billing is the admins'; writes are refused earlier, as every provider change.
        assert "provider admins" in response.content.decode(), url
    assert DayPassPurchase.objects.count() == purchases


def test_customer_agents_on_the_console_get_404(cast: Cast) -> None:
    client = console(cast.acme_it)
    for method, url, data in _every_page():
        assert getattr(client, method)(url, data).status_code == 404, url
    assert 'href="/billing/' not in client.get("/").content.decode()


@pytest.mark.parametrize("who", ["acme_admin", "acme_user", "globex_user"])
def test_customer_users_never_reach_billing(cast: Cast, who: str) -> None:
    user = getattr(cast, who)
    on_portal = portal(user)
    on_console = Client(HTTP_HOST="localhost")
    on_console.force_login(user)
    purchases = DayPassPurchase.objects.count()
    for method, url, data in _every_page():
        assert getattr(on_portal, method)(url, data).status_code == 404, url
        # The console does not honour a customer user's session: signed out, sent to sign in.
        response = getattr(on_console, method)(url, data)
        assert response.status_code in (302, 403) and b"day-pass-pool" not in response.content, url
        if response.status_code == 302:
            assert response["Location"].startswith("/login/")
    assert DayPassPurchase.objects.count() == purchases


def test_signed_out_visitors_are_sent_to_sign_in(cast: Cast) -> None:
    response = Client(HTTP_HOST="localhost").get(LICENCES)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- the licence report -----------------------------------------------------------------------------


def test_the_licence_page_shows_the_numbers_chart_agents_and_advice(cast: Cast, actor: None) -> None:
    october = [date(2026, 10, day) for day in range(1, 17)]  # 16 passes: 96 EUR > 89 EUR a licence
    for day in october:
        _used(cast.charlie, day)
    dora = _occasional("dora@msp.test", "Dora")
    _used(dora, date(2026, 10, 3))
    response = console(cast.alice).get(f"{LICENCES}?month=2026-10")
    html = response.content.decode()
    assert response.status_code == 200 and "Licences · October 2026" in html

    full_time = User.objects.filter(
        is_active=True, licence=Licence.FULL_TIME, kind__in=["provider_admin", "agent"]
    )
    customer_agents = User.objects.filter(is_active=True, customer_role="agent")  # acme-it
    assert _figure(html, "full-time") == str(full_time.count() + customer_agents.count())
    assert _figure(html, "occasional") == "2" and _figure(html, "consumed") == "17"
    assert _figure(html, "balance") == str(services.pool().balance)

    # The chart: an image (drawn by pygal) saying what it shows, one bar per day of the month,
    # and the days with passes as a table.
    chart = re.search(
        r'<img class="chart" id="passes-chart" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', html
    )
    assert chart is not None
    assert chart[2] == (
        "Day passes used per day, October 2026: 17 day passes used in October 2026; "
        "the busiest day was Sat 03 Oct 2026: 2 passes."
    )
    svg = base64.b64decode(chart[1]).decode()
    values = re.findall(r'<desc class="value">(\d+)</desc>', svg)
    assert len(values) == 31 and values[2] == "2" and values[0] == "1" and values[19] == "0"
    table = html[html.index('id="passes-per-day-table"') :]
    assert (
        '<tr data-date-day="3"><td data-label="Date">Sat 03 Oct 2026</td>'
        '<td data-label="Passes" class="num">2</td>' in table
    )

    charlie = html[html.index('data-agent="charlie@msp.test"') :]
    assert re.search(r"data-passes>16<", charlie[: charlie.index("</tr>")])
    advice = html[html.index('id="licence-recommendations"') :]
    assert 'data-action="convert_to_full_time" data-agent="charlie@msp.test"' in advice
    assert "charlie used 16 day passes in 2026-10 (96.00 EUR)" in advice
    assert 'data-action="convert_to_occasional" data-agent="bob@msp.test"' in advice  # worked 0 days


def test_the_licence_page_defaults_to_this_month(cast: Cast) -> None:
    html = console(cast.alice).get(LICENCES).content.decode()
    label = timezone.now().strftime("%B %Y")
    assert f"Licences · {label}" in html and f'value="{timezone.now():%Y-%m}"' in html
    assert 'id="passes-chart" src="data:image/svg+xml;base64,' in html


@pytest.mark.parametrize("month", ["2026-13", "abc", "2026-10-01", "10-2026x", "0-01"])
def test_a_bad_month_is_a_400_page_saying_so(cast: Cast, month: str) -> None:
    response = console(cast.alice).get(LICENCES, {"month": month})
    html = response.content.decode()
    assert response.status_code == 400
    assert "month: Use the form YYYY-MM, e.g. 2026-11" in _messages(html)
    assert 'id="passes-chart"' not in html and 'id="month"' in html  # the month picker to fix it
