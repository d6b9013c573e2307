"""The access review (issue 17): who had access to which customer in a period, with which role,
granted and revoked when and by whom, passes used, last access, and the time from deactivation
to last access; as JSON (API), a printable page and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.models import User
from accounts.services import memberships_set, person_deactivate
from audit.context import person_context
from people.services import CustomerUserChanges, customer_user_update
from tests.conftest import Cast, api_for
from tests.support.clients import console


def _period() -> dict[str, str]:
    today = timezone.now().date()
    return {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}


def _rows(cast: Cast, **params: str) -> list[dict[str, Any]]:
    response = api_for(cast.alice).get("/api/v1/audit/access-review/", {**_period(), **params})
    assert response.status_code == 200, response.content
    return list(response.json())


def _of(rows: list[dict[str, Any]], email: str, customer: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["email"] == email and row["customer"] == customer]


def test_every_kind_of_access_is_in_the_review(cast: Cast) -> None:
    rows = _rows(cast)
    assert [row["role"] for row in _of(rows, "alice@msp.test", "*")] == ["provider admin"]
    assert [row["role"] for row in _of(rows, "bob@msp.test", "acme")] == ["provider agent"]
    (charlie,) = _of(rows, "charlie@msp.test", "globex")
    assert charlie["role"] == "occasional agent" and charlie["passes_used"] == 0
    assert [row["role"] for row in _of(rows, "admin@acme.test", "acme")] == ["customer admin"]
    assert [row["role"] for row in _of(rows, "it@acme.test", "acme")] == ["customer agent"]
    assert _of(rows, "user@acme.test", "acme") == []  # plain users have no access to review
    assert _of(rows, "bob@msp.test", "globex") == []


def test_grants_and_revocations_name_when_and_by_whom(cast: Cast) -> None:
    with person_context(cast.alice, channel="web"):
        memberships_set(agent=cast.bob, customers=[cast.acme, cast.globex])
        memberships_set(agent=cast.bob, customers=[cast.acme])
    (globex,) = _of(_rows(cast), "bob@msp.test", "globex")
    assert globex["granted"]["by"] == "alice@msp.test" and globex["revoked"]["by"] == "alice@msp.test"
    assert globex["granted"]["at"] <= globex["revoked"]["at"]


def test_a_role_change_ends_one_access_and_starts_another(cast: Cast) -> None:
    profile = cast.profile(cast.acme_user)
    with person_context(cast.alice, channel="api"):
        customer_user_update(profile=profile, changes=CustomerUserChanges(role="admin"), by=cast.alice)
    (row,) = _of(_rows(cast), "user@acme.test", "acme")
    assert (
        row["role"] == "customer admin"
        and row["granted"]["by"] == "alice@msp.test"
        and row["revoked"] is None
    )


def test_deactivation_revokes_and_the_time_to_last_access_is_shown(cast: Cast) -> None:
    with person_context(cast.alice, channel="web"):
        person_deactivate(user=User.objects.get(pk=cast.bob.pk))
    later = timezone.now() + timedelta(minutes=5)
    User.objects.filter(pk=cast.bob.pk).update(last_login=later)  # got in after (bookkeeping field)
    (row,) = _of(_rows(cast), "bob@msp.test", "acme")
    assert row["revoked"]["by"] == "deactivated" and row["deactivated_at"] is not None
    assert 250 < row["deactivation_to_last_access_seconds"] <= 300 + 60


def test_the_period_is_checked(cast: Cast) -> None:
    api = api_for(cast.alice)
    for params, field in (
        ({}, "from"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to"),
        ({"from": "\uff12\uff10\uff12\uff16-01-01", "to": "2026-03-01"}, "from"),  # fullwidth digits
    ):
        response = api.get("/api/v1/audit/access-review/", params)
        assert response.status_code == 400 and field in response.json()["fields"], params
    assert api_for(cast.bob).get("/api/v1/audit/access-review/", _period()).status_code == 403
    assert api_for(cast.acme_admin).get("/api/v1/audit/access-review/", _period()).status_code == 404


def test_the_printable_page_and_the_csv(cast: Cast) -> None:
    client = console(cast.alice)
    page = client.get("/audit/access-review/", _period())
    html = page.content.decode()
    assert page.status_code == 200 and 'data-email="it@acme.test" data-role="customer agent"' in html
    assert "data-print" in html
    default = client.get("/audit/access-review/")  # the last full month
    assert default.status_code == 200
    bad = client.get("/audit/access-review/", {"from": "x", "to": "y"})
    assert bad.status_code == 400 and "from" in bad.content.decode()
    exported = client.get("/audit/access-review.csv", _period())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert any(row["email"] == "bob@msp.test" and row["customer"] == "acme" for row in rows)
