"""Signed-in test clients on the real hosts: the console and a customer's portal."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from billing.services import needs_day_pass


def console(user: User, *, proceed: bool = True) -> Client:
    """A console session of ``user``. An occasional agent has pressed Proceed on the day-pass
    page already (a pass from the test's pool), unless ``proceed`` is False."""
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    if proceed and needs_day_pass(user):
        response = client.post("/day-pass/", {"next": "/"})
        assert response.status_code == 302, "no day pass for the occasional agent (empty pool?)"
    return client


def portal(user: User, slug: str | None = None) -> Client:
    assert user.customer is not None
    client = Client(HTTP_HOST=f"{slug or user.customer.slug}.localhost")
    client.force_login(user)
    return client
