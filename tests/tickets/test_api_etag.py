"""The API's optional protection against lost updates: GET a ticket, PATCH it with If-Match."""

from __future__ import annotations

from tests.conftest import Cast, api_for
from tests.tickets.test_api import TICKETS, open_ticket


def test_get_sends_an_etag_and_patch_with_a_stale_if_match_is_412(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    url = f"{TICKETS}{ticket['id']}/"
    read = api_for(cast.bob).get(url)
    tag = read["ETag"]
    assert read.status_code == 200 and tag.startswith('"') and tag.endswith('"')
    assert api_for(cast.bob).get(url)["ETag"] == tag  # unchanged: the same version
    # Someone else changes it (without If-Match: as api.md clients always did).
    changed = api_for(cast.alice).patch(url, {"priority": "P1"}, format="json")
    assert changed.status_code == 200 and changed["ETag"] != tag
    stale = api_for(cast.bob).patch(url, {"priority": "P4"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed" and stale.json()["detail"]
    assert api_for(cast.bob).get(url).json()["priority"] == "P1"  # nothing was changed
    # With the current version (or *, or a weak tag) it applies and hands out the next one.
    fresh = api_for(cast.bob).get(url)["ETag"]
    saved = api_for(cast.bob).patch(url, {"priority": "P2"}, format="json", HTTP_IF_MATCH=f'"x", W/{fresh}')
    assert saved.status_code == 200 and saved.json()["priority"] == "P2" and saved["ETag"] != fresh
    anyway = api_for(cast.bob).patch(url, {"priority": "P3"}, format="json", HTTP_IF_MATCH="*")
    assert anyway.status_code == 200


def test_a_reply_changes_the_etag_and_junk_if_match_is_412_never_500(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    url = f"{TICKETS}{ticket['id']}/"
    tag = api_for(cast.bob).get(url)["ETag"]
    api_for(cast.acme_user).post(f"{url}comments/", {"body": "More details"}, format="json")
    assert api_for(cast.bob).get(url)["ETag"] != tag
    for junk in ('"', "W/", "x" * 5000, "\u00e9", ",,,", tag + "garbage"):
        response = api_for(cast.bob).patch(url, {"priority": "P2"}, format="json", HTTP_IF_MATCH=junk)
        assert response.status_code == 412, junk
    # A foreign ticket stays 404 whatever If-Match says.
    foreign = api_for(cast.charlie).patch(url, {"priority": "P2"}, format="json", HTTP_IF_MATCH="*")
    assert foreign.status_code == 404
