"""Absolute links to the console and to a customer's portal, as people reach them from outside
(emails, invitations, the portal URL shown in the API). Pages are named, never spelled out: a
link is ``reverse()`` of a URL name in the urlconf of the host it points to."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse


def absolute_url(host: str, path: str) -> str:
    """An absolute URL on the console or a portal host."""
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT not in (0, 80, 443) else ""
    return f"{settings.PUBLIC_URL_SCHEME}://{host}{port}{path}"


def console_url(path: str = "/") -> str:
    return absolute_url(settings.BASE_DOMAIN, path)


def console_link(name: str, **kwargs: Any) -> str:
    """The absolute URL of the console page called ``name``."""
    return console_url(reverse(name, urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs=kwargs or None))


def portal_link(host: str, name: str, **kwargs: Any) -> str:
    """The absolute URL of the page called ``name`` on the portal served at ``host`` (a
    customer's ``portal_host``)."""
    path = reverse(name, urlconf=settings.ROOT_URLCONF, kwargs=kwargs or None)
    return absolute_url(host, path)
