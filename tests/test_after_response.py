"""Work that waits until the response has gone out (core.afterwards), such as the enqueue of a
ticket change's notifications."""

from __future__ import annotations

import logging

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from core.afterwards import AfterResponseMiddleware, after_response


def test_outside_a_request_it_runs_at_once_and_a_failure_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    after_response(lambda: calls.append("now"))
    assert calls == ["now"]

    def broken() -> None:
        raise RuntimeError("broker down")

    with caplog.at_level(logging.ERROR, logger="core.afterwards"):
        after_response(broken)
        after_response(lambda: calls.append("next"))
    assert calls == ["now", "next"] and "broker down" in caplog.text


def test_in_a_request_it_runs_when_the_response_is_closed() -> None:
    calls: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        after_response(lambda: calls.append("first"))
        after_response(lambda: calls.append("second"))
        return HttpResponse("saved")

    response = AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert calls == []  # the response is on its way: nothing ran yet
    after_response(lambda: calls.append("outside"))  # the request's list is not this code's
    assert calls == ["outside"]
    # What the WSGI server does after sending the last byte (without the end of the request's
    # database work, as Django's test client does: this test has no database).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert calls == ["outside", "first", "second"]


def test_a_request_that_raises_runs_its_work_before_the_error_goes_on() -> None:
    calls: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        after_response(lambda: calls.append("committed before the error"))
        raise ValueError("late failure")

    with pytest.raises(ValueError, match="late failure"):
        AfterResponseMiddleware(view)(RequestFactory().get("/"))
    assert calls == ["committed before the error"]
