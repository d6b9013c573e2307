"""serviflow.live: a poll is answered 304 only while its version is current and unexpired."""

from __future__ import annotations

import json
from datetime import timedelta

from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from serviflow.live import etag, not_modified, poll_headers, with_etag


def _poll(tag: str, *, htmx: bool = True):
    headers = {"If-None-Match": tag}
    if htmx:
        headers["HX-Request"] = "true"
    return RequestFactory().get("/", headers=headers)


def test_unchanged_version_is_not_modified() -> None:
    response = not_modified(_poll(etag((1, "a"))), (1, "a"))
    assert response is not None and response.status_code == 304


def test_a_changed_version_renders() -> None:
    assert not_modified(_poll(etag((1, "a"))), (2, "a")) is None


def test_an_expired_version_renders_and_an_unexpired_one_does_not() -> None:
    now = timezone.now()
    assert not_modified(_poll(etag("v", until=now - timedelta(seconds=1))), "v") is None
    assert not_modified(_poll(etag("v", until=now + timedelta(minutes=1))), "v") is not None


def test_only_polls_get_304_and_junk_renders() -> None:
    assert not_modified(_poll(etag("v"), htmx=False), "v") is None
    for junk in ('"', '""', '"x.1e9"', "W/" + etag("v") + ".٣", "x" * 300, '"abc.99999999999999999"'):
        assert not_modified(_poll(junk), "v") is None
    assert not_modified(_poll("W/" + etag("v")), "v") is not None  # weak comparison


def test_headers_carry_the_tag() -> None:
    response = with_etag(HttpResponse("x"), "v")
    assert response["ETag"] == etag("v")
    assert json.loads(poll_headers("v")) == {"If-None-Match": etag("v")}
