from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from audit import context
from audit.models import Channel


class AuditContextMiddleware:
    """Attributes writes made by a signed-in person in the browser to them, channel ``web``.

    API requests authenticate inside DRF; the API base view replaces this with channel ``api``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        signed_in = user if user is not None and user.is_authenticated else None
        token = context.set_request_actor(signed_in, channel=Channel.WEB, remote_addr=client_ip(request))
        try:
            return self.get_response(request)
        finally:
            context.restore(token)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for the audit trail and the sign-in throttle.

    Behind ``TRUSTED_PROXY_COUNT`` proxies every request comes from the nearest proxy, so the
    address is the rightmost X-Forwarded-For hop the proxies did not add themselves: each trusted
    proxy appends the address it received from, and anything further left is whatever the client
    sent (it can be spoofed). With no trusted proxy the header is ignored.
    """
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted:
        forwarded: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= trusted:
            return hops[-trusted]
    return request.META.get("REMOTE_ADDR") or None
