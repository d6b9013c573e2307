"""The console's SLA configuration pages: business-hours profiles (week grid, holidays) and
policies (targets table), through Django's test client on the real hosts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.services import CustomerChanges, customer_update
from tests.conftest import Cast
from tests.support.clients import console, portal

PROFILES = "/sla/profiles/"
POLICIES = "/sla/policies/"
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def _profile(name: str = "London office", **kw: Any) -> BusinessHours:
    values: dict[str, Any] = {
        "timezone": "Europe/London",
        "schedule": NINE_TO_FIVE,
        "holidays": ["2026-12-25"],
        **kw,
    }
    profile: BusinessHours = BusinessHours.objects.create(name=name, **values)
    return profile


def _policy(name: str = "Gold", **kw: Any) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(name=name, targets=STANDARD_TARGETS, **kw)
    return policy


def _profile_post(**kw: str) -> dict[str, str]:
    days = {day: "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return {"name": "Berlin office", "timezone": "Europe/Berlin", "holidays": "", **days, **kw}


def _policy_post(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Gold", "business_hours": "", "warning_percent": "80"}
    for priority, targets in STANDARD_TARGETS.items():
        for clock, minutes in targets.items():
            data[f"{priority}_{clock}"] = str(minutes)
    return data | kw


def _block(html: str, marker: str) -> str:
    """The HTML from ``marker`` to the end of its element's line (a row, a cell, a field)."""
    start = html.index(marker)
    return html[start : start + 1500]


# --- profiles -----------------------------------------------------------------------------------


def test_the_profile_list_and_page_draw_the_week(cast: Cast) -> None:
    profile = _profile(schedule={**NINE_TO_FIVE, "sat": [["10:00", "14:00"]]})
    _policy("Gold", business_hours=profile)
    listing = console(cast.alice).get(PROFILES)
    html = listing.content.decode()
    assert listing.status_code == 200
    assert 'data-profile="London office"' in html and "Mon-Fri 09:00-17:00 · Sat 10:00-14:00" in html
    assert "44 h per week" in html and "1 policy, 0 customers" in html
    page = console(cast.alice).get(f"{PROFILES}{profile.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    # Seven day rows; 09:00-17:00 is a bar from 37.5 % of the day, a third of it wide.
    assert html.count('class="week-track') == 7
    assert 'x="37.500%" width="33.333%" y="0" height="100%" rx="3"><title>09:00-17:00</title>' in html
    assert 'id="week-track-sun"' in html and 'aria-label="Sunday: closed"' in html
    assert 'value="09:00-17:00"' in html and 'name="sat"' in html  # editable intervals per day
    assert "Fri 25 Dec" in html and 'id="fill-form"' in html
    assert 'id="sla-simulator-link"' in html and "/sla/simulator/" in html


def test_creating_and_editing_a_profile(cast: Cast) -> None:
    client = console(cast.alice)
    assert client.get(f"{PROFILES}new/").status_code == 200
    created = client.post(
        f"{PROFILES}new/",
        _profile_post(
            mon="13:00-17:00, 08:00-12:00", sat="10:00 \u2013 24:00", holidays="2026-12-26\n2026-12-25"
        ),
    )
    assert created.status_code == 302, created.content.decode()
    profile = BusinessHours.objects.get(name="Berlin office")
    assert created["Location"] == f"{PROFILES}{profile.pk}/"
    assert profile.schedule["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert profile.schedule["sat"] == [["10:00", "24:00"]] and profile.schedule["sun"] == []
    assert profile.holidays == ["2026-12-25", "2026-12-26"] and profile.timezone == "Europe/Berlin"
    edited = client.post(f"{PROFILES}{profile.pk}/", _profile_post(name="Berlin HQ", tue="09:00-17:00"))
    assert edited.status_code == 302
    profile.refresh_from_db()
    assert profile.name == "Berlin HQ" and profile.holidays == [] and profile.schedule["mon"] == []
    assert "Business hours &#x27;Berlin HQ&#x27; saved." in client.get(edited["Location"]).content.decode()


@pytest.mark.parametrize(
    ("post", "where", "words"),
    [
        ({"mon": "09:00-12:00, 11:00-13:00"}, 'data-day="mon"', "Interval 2: overlaps interval 1"),
        ({"tue": "17:00-09:00"}, 'data-day="tue"', "17:00-09:00 ends before it starts"),
        ({"wed": "9 to 5"}, 'data-day="wed"', "write an interval as 09:00-17:00"),
        ({"thu": "09:00-25:00"}, 'data-day="thu"', "is not a time"),
        ({"mon": "09:00-17:00", "timezone": "Mars/Base"}, 'for="id_timezone"', "not an IANA time zone"),
        ({"mon": "09:00-17:00", "holidays": "2026-12-25\n2026-02-30"}, 'for="id_holidays"', "not a date"),
        ({"mon": "09:00-17:00", "name": "london OFFICE"}, 'for="id_name"', "already taken"),
        ({}, 'role="alert"', "no open time at all"),
    ],
)
def test_profile_errors_are_shown_next_to_the_field_and_nothing_is_saved(
    cast: Cast, post: dict[str, str], where: str, words: str
) -> None:
    _profile()
    before = list(BusinessHours.objects.values_list("pk", "name", "schedule"))
    response = console(cast.alice).post(f"{PROFILES}new/", _profile_post(**post))
    html = response.content.decode().replace("&#x27;", "'")
    assert response.status_code == 400
    assert words in _block(html, where), _block(html, where)
    assert list(BusinessHours.objects.values_list("pk", "name", "schedule")) == before


def test_an_edit_with_errors_keeps_what_was_typed_and_changes_nothing(cast: Cast) -> None:
    profile = _profile()
    response = console(cast.alice).post(
        f"{PROFILES}{profile.pk}/",
        _profile_post(name="Renamed", mon="09:00-12:00, 10:00-11:00", fri="08:00-18:00"),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'value="08:00-18:00"' in html and "Interval 2: overlaps interval 1" in html
    assert (
        'x="33.333%" width="41.667%" y="0" height="100%" rx="3"><title>08:00-18:00</title>' in html
    )  # the grid shows the input
    profile.refresh_from_db()
    assert profile.name == "London office" and profile.schedule == NINE_TO_FIVE


def test_the_grid_follows_the_inputs(cast: Cast) -> None:
    response = console(cast.alice).post(f"{PROFILES}preview/", {"mon": "09:00-17:00", "tue": "17:00-09:00"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('hx-swap-oob="true"') == 8  # seven tracks and the weekly total
    assert 'id="week-track-mon"' in html and "<title>09:00-17:00</title>" in html
    tuesday = _block(html, 'id="week-track-tue"')
    assert "ends before it starts" in tuesday.split("</div>")[0]
    assert "Open 8 h per week." in html


def test_filling_holidays_from_the_page(cast: Cast) -> None:
    profile = _profile(holidays=[])
    client = console(cast.alice)
    filled = client.post(f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "gb", "years": "2026"})
    assert filled.status_code == 302 and filled["Location"] == f"{PROFILES}{profile.pk}/#holidays"
    profile.refresh_from_db()
    assert "2026-12-25" in profile.holidays and all(day.startswith("2026") for day in profile.holidays)
    page = client.get(filled["Location"]).content.decode()
    assert "holidays of GB added" in page and "Fri 25 Dec" in page and 'data-year="2026"' in page
    refused = client.post(
        f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "Narnia", "years": "2026-2050"}
    )
    html = refused.content.decode().replace("&#x27;", "'")
    assert refused.status_code == 400
    fill_form = _block(html, 'id="fill-form"')
    assert "'Narnia' is not a country code" in fill_form and "At most 10 years at once" in fill_form
    profile.refresh_from_db()
    assert all(day.startswith("2026") for day in profile.holidays)


def test_deleting_a_profile_from_its_page(cast: Cast, actor: None) -> None:
    used, unused = _profile("Used"), _profile("Unused")
    customer_update(customer=cast.acme, changes=CustomerChanges(business_hours=used))
    client = console(cast.alice)
    refused = client.post(f"{PROFILES}{used.pk}/delete/", follow=True)
    assert "is used by customer &#x27;Acme&#x27;" in refused.content.decode()
    assert BusinessHours.objects.filter(pk=used.pk).exists()
    gone = client.post(f"{PROFILES}{unused.pk}/delete/")
    assert gone.status_code == 302 and gone["Location"] == PROFILES
    assert not BusinessHours.objects.filter(pk=unused.pk).exists()


# --- policies -----------------------------------------------------------------------------------


def test_the_policy_list_and_page_show_the_targets_table(cast: Cast) -> None:
    hours = _profile()
    gold = _policy("Gold", business_hours=hours)
    listing = console(cast.alice).get(POLICIES)
    html = listing.content.decode()
    assert listing.status_code == 200
    standard = _block(html, 'data-policy="Standard"')
    assert "Provider default" in standard and "24\u00d77" in standard and "1 h</span> / <span" in standard
    assert "London office" in _block(html, 'data-policy="Gold"')
    page = console(cast.alice).get(f"{POLICIES}{gold.pk}/").content.decode()
    p3 = _block(page, 'data-priority="P3"')
    assert 'name="P3_first_response"' in p3 and 'value="240"' in p3 and '<span class="human">4 h</span>' in p3
    assert 'value="1440"' in p3 and "24 h" in p3
    assert f'<option value="{hours.pk}" selected>London office</option>' in page


def test_creating_a_policy_and_moving_the_default(cast: Cast) -> None:
    client = console(cast.alice)
    hours = _profile()
    assert client.get(f"{POLICIES}new/").status_code == 200
    created = client.post(
        f"{POLICIES}new/", _policy_post(business_hours=str(hours.pk), P1_first_response="15", is_default="on")
    )
    assert created.status_code == 302, created.content.decode()
    gold = SlaPolicy.objects.get(name="Gold")
    assert gold.is_default and gold.business_hours == hours and gold.targets["P1"]["first_response"] == 15
    assert list(SlaPolicy.objects.filter(is_default=True)) == [gold]
    # Unticking the default on the default policy is refused, next to the checkbox.
    refused = client.post(f"{POLICIES}{gold.pk}/", _policy_post(name="Gold 2"))
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "make another policy the default first" in _block(html, 'id="is-default-errors"')
    gold.refresh_from_db()
    assert gold.is_default and gold.name == "Gold"
    standard = SlaPolicy.objects.get(name="Standard")
    moved = client.post(f"{POLICIES}{standard.pk}/", _policy_post(name="Standard", is_default="on"))
    assert moved.status_code == 302
    assert list(SlaPolicy.objects.filter(is_default=True).values_list("name", flat=True)) == ["Standard"]


@pytest.mark.parametrize(
    ("post", "where", "words"),
    [
        ({"P2_first_response": "600", "P2_resolution": "480"}, 'data-priority="P2"', "cannot be due after"),
        ({"P4_resolution": "0"}, 'data-priority="P4"', "between 1 and"),
        ({"P1_resolution": "1.5"}, 'data-priority="P1"', "whole number"),
        ({"warning_percent": "100"}, 'for="id_warning_percent"', "between 1 and 99"),
        ({"name": "STANDARD"}, 'for="id_name"', "already taken"),
    ],
)
def test_policy_errors_are_shown_next_to_the_field_and_nothing_is_saved(
    cast: Cast, post: dict[str, str], where: str, words: str
) -> None:
    before = list(SlaPolicy.objects.values_list("pk", "name", "targets"))
    response = console(cast.alice).post(f"{POLICIES}new/", _policy_post(**post))
    html = response.content.decode().replace("&#x27;", "'")
    assert response.status_code == 400
    assert words in _block(html, where), _block(html, where)
    assert list(SlaPolicy.objects.values_list("pk", "name", "targets")) == before


def test_deleting_a_policy_from_its_page(cast: Cast, actor: None) -> None:
    used, unused = _policy("Used"), _policy("Unused")
    customer_update(customer=cast.globex, changes=CustomerChanges(default_sla=used))
    client = console(cast.alice)
    refused = client.post(f"{POLICIES}{used.pk}/delete/", follow=True)
    assert "default of customer &#x27;Globex&#x27;" in refused.content.decode()
    default = SlaPolicy.objects.get(is_default=True)
    refused = client.post(f"{POLICIES}{default.pk}/delete/", follow=True)
    assert "is the provider default and cannot be deleted" in refused.content.decode()
    gone = client.post(f"{POLICIES}{unused.pk}/delete/")
    assert gone.status_code == 302 and gone["Location"] == POLICIES
    assert set(SlaPolicy.objects.values_list("name", flat=True)) == {"Used", default.name}


# --- who may see what ---------------------------------------------------------------------------


def test_agents_see_the_pages_read_only(cast: Cast) -> None:
    profile, policy = _profile(), _policy()
    client = console(cast.bob)
    for url in (PROFILES, f"{PROFILES}{profile.pk}/", POLICIES, f"{POLICIES}{policy.pk}/"):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        # The only form that writes is signing out (the header's search and the shortcuts
        # dialog's Close change nothing).
        assert html.count('method="post"') == 1 and "Sign out</button></form>" in html, url
        assert "New profile" not in html and "New policy" not in html and "Delete" not in html
    page = client.get(f"{PROFILES}{profile.pk}/").content.decode()
    assert "<title>09:00-17:00</title>" in page and "Fri 25 Dec" in page  # the grid and holidays, no inputs
    assert 'name="mon"' not in page
    policy_page = client.get(f"{POLICIES}{policy.pk}/").content.decode()
    assert '<span class="human">4 h</span>' in _block(policy_page, 'data-priority="P3"')
    writes = [
        client.get(f"{PROFILES}new/"),
        client.post(f"{PROFILES}new/", _profile_post(mon="09:00-17:00")),
        client.post(f"{PROFILES}{profile.pk}/", _profile_post(mon="09:00-17:00")),
        client.post(f"{PROFILES}{profile.pk}/fill-holidays/", {"country": "GB", "years": "2026"}),
        client.post(f"{PROFILES}{profile.pk}/delete/"),
        client.post(f"{PROFILES}preview/", {"mon": "09:00-17:00"}),
        client.get(f"{POLICIES}new/"),
        client.post(f"{POLICIES}new/", _policy_post(name="Mine")),
        client.post(f"{POLICIES}{policy.pk}/", _policy_post(name="Mine", is_default="on")),
        client.post(f"{POLICIES}{policy.pk}/delete/"),
    ]
    assert [response.status_code for response in writes] == [403] * len(writes)
    profile.refresh_from_db()
    assert profile.name == "London office" and profile.holidays == ["2026-12-25"]
    assert SlaPolicy.objects.filter(pk=policy.pk, name="Gold", is_default=False).exists()


def _every_page(profile: BusinessHours, policy: SlaPolicy) -> list[tuple[str, str]]:
    return [
        ("get", "/sla/"),
        ("get", PROFILES),
        ("get", f"{PROFILES}new/"),
        ("get", f"{PROFILES}{profile.pk}/"),
        ("post", f"{PROFILES}{profile.pk}/"),
        ("post", f"{PROFILES}{profile.pk}/fill-holidays/"),
        ("post", f"{PROFILES}{profile.pk}/delete/"),
        ("post", f"{PROFILES}preview/"),
        ("get", POLICIES),
        ("get", f"{POLICIES}new/"),
        ("get", f"{POLICIES}{policy.pk}/"),
        ("post", f"{POLICIES}{policy.pk}/"),
        ("post", f"{POLICIES}{policy.pk}/delete/"),
    ]


def test_customer_agents_on_the_console_get_404(cast: Cast) -> None:
    profile, policy = _profile(), _policy()
    client = console(cast.acme_it)
    for method, url in _every_page(profile, policy):
        assert getattr(client, method)(url).status_code == 404, url
    assert 'href="/sla/policies/"' not in client.get("/").content.decode()  # no SLA link in the nav
    assert 'href="/sla/policies/"' in console(cast.bob).get("/").content.decode()
    assert (
        BusinessHours.objects.filter(pk=profile.pk).exists()
        and SlaPolicy.objects.filter(pk=policy.pk).exists()
    )


@pytest.mark.parametrize("who", ["acme_admin", "acme_user", "globex_user"])
def test_customer_users_never_reach_the_pages(cast: Cast, who: str) -> None:
    profile, policy = _profile(), _policy()
    user = getattr(cast, who)
    on_portal = portal(user)
    on_console = Client(HTTP_HOST="localhost")
    on_console.force_login(user)
    for method, url in _every_page(profile, policy):
        assert getattr(on_portal, method)(url).status_code == 404, url
        # The console does not honour a customer user's session: signed out, sent to sign in.
        response = getattr(on_console, method)(url)
        assert response.status_code in (302, 403) and b"week-track" not in response.content, url
        if response.status_code == 302:
            assert response["Location"].startswith("/login/")
    assert BusinessHours.objects.filter(pk=profile.pk, name="London office").exists()


@pytest.mark.parametrize("url", [PROFILES, POLICIES])
def test_list_pages_cost_the_same_with_more_rows(cast: Cast, url: str) -> None:
    client = console(cast.bob)

    def add(start: int, n: int) -> None:
        for index in range(start, start + n):
            _policy(f"Policy {index}", business_hours=_profile(f"Profile {index}"))

    def queries() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add(0, 2)
    few = queries()
    add(2, 15)
    assert queries() == few
    assert len(re.findall(r'data-(?:profile|policy)="', client.get(url).content.decode())) >= 17
