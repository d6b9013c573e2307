"""Signed-in test clients on the real hosts: the console and a customer's portal."""

from __future__ import annotations

from django.test import Client

from accounts.models import User


def console(user: User) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def portal(user: User, slug: str | None = None) -> Client:
    assert user.customer is not None
    client = Client(HTTP_HOST=f"{slug or user.customer.slug}.localhost")
    client.force_login(user)
    return client
