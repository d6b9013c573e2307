"""The console's side of the day-pass check, on every page an agent opens.

An occasional agent without an active pass is sent to the Proceed page (nothing is consumed
before they click Proceed there); the API does its own check (``serviflow.api.views``), and
signing in or out, activation links and the Proceed page itself need no pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from billing.services import active_until, activity_note, needs_day_pass

EXEMPT_URL_NAMES = {"login", "logout", "activate", "day-pass", "healthz"}


def is_exempt(request: HttpRequest) -> bool:
    match = request.resolver_match
    if match is None:
        return True
    return match.url_name in EXEMPT_URL_NAMES or match.namespace.split(":")[0] == "api"


class DayPassMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        tenant = getattr(request, "tenant", None)
        if (
            not user.is_authenticated
            or tenant is None
            or tenant.schema_name != "public"
            or is_exempt(request)
        ):
            return None
        now = timezone.now()
        if not needs_day_pass(user):
            if user.is_provider_staff:
                activity_note(user, now)
            return None
        if active_until(user, now) is not None:
            return None
        target = reverse("day-pass") + "?" + urlencode({"next": request.get_full_path()})
        if getattr(request, "htmx", False):  # a fragment request: make the browser go there
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
