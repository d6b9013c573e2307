from __future__ import annotations

from django.conf import settings


def absolute_url(host: str, path: str) -> str:
    """An absolute URL on the console or a portal host, as people reach it from outside."""
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT not in (0, 80, 443) else ""
    return f"{settings.PUBLIC_URL_SCHEME}://{host}{port}{path}"


def console_url(path: str = "/") -> str:
    return absolute_url(settings.BASE_DOMAIN, path)
