from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.schema import tenant_connection


def platform(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    on_portal = tenant is not None and tenant.schema_name != "public"
    user = getattr(request, "user", None)
    return {
        "unread_notifications": (lambda: _unread(user)) if user is not None and user.is_authenticated else 0,
        "on_portal": on_portal,
        "current_customer": tenant if on_portal else None,
        "provider_name": _provider_name(tenant, on_portal),
        "schema_name": tenant_connection.schema_name,
    }


def _provider_name(tenant: Any, on_portal: bool) -> str:
    if tenant is not None and not on_portal:
        return str(tenant.name)
    return "ServiFlow"


def _unread(user: Any) -> int:
    from notifications.selectors import unread_count

    return unread_count(user)
