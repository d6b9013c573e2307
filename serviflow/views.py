"""The health check and the error pages (JSON under /api/, HTML elsewhere)."""

from __future__ import annotations

import sys
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from serviflow.api.errors import error_body
from serviflow.pooling import is_refusal

TOO_LARGE = f"The request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes)."


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "down"
        return _health(database_up=False)
    return _health(database_up=True)


def _health(*, database_up: bool) -> JsonResponse:
    body = {"status": "ok", "database": "ok" if database_up else "down", "broker": "ok"}
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
    except Exception:  # noqa: BLE001
        body["broker"] = "down"
    healthy = body["database"] == "ok" and body["broker"] == "ok"
    if not healthy:
        body["status"] = "down"
    return JsonResponse(body, status=200 if healthy else 503)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 while the database refuses (serviflow.unavailable): the health check's own body, the
    API's envelope, or a plain page (no template: its context would ask the database again)."""
    detail = "The database is not available right now. Please try again in a moment."
    response: HttpResponse
    if request.path == "/healthz":
        response = _health(database_up=False)
    elif request.path.startswith("/api/"):
        response = JsonResponse(error_body("database_unavailable", detail), status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{detail}</p>",
            status=503,
        )
    add_never_cache_headers(response)
    return response


def error_response(
    request: HttpRequest, status: int, code: str, detail: str, fields: dict[str, list[str]] | None = None
) -> HttpResponse:
    """An error answered outside a view: the API's envelope under /api/, the error page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, detail, fields), status=status)
    problems = [f"{name}: {' '.join(messages)}" for name, messages in (fields or {}).items()]
    context = {"status": status, "detail": detail, "problems": problems}
    return render(request, "error.html", context, status=status)


_error = error_response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _error(request, 400, "bad_request", TOO_LARGE)
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return _error(request, 400, "too_many_fields", str(exception))
    return _error(request, 400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Our PermissionDenied carry a sentence for the person (which scope, whose role); show it.
    detail = str(exception or "") or "You do not have permission to do this."
    return _error(request, 403, "permission_denied", detail)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


@csrf_exempt  # it changes nothing, and a client without a session must see the 404
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Every /api/ URL that no endpoint matched, whatever the method: the envelope, also when
    DEBUG would otherwise show Django's HTML page. A missing final slash is named (this
    catch-all is why Django's APPEND_SLASH redirect no longer happens under /api/)."""
    detail = "Not found."
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"Not found. API URLs end with a slash: {request.path}/"
    return JsonResponse(error_body("not_found", detail), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its handler of the uncaught exception: a refusal deeper down than
    # the middleware's reach (a session saved after the view) is still a 503 (with DEBUG off).
    if is_refusal(sys.exc_info()[1]):
        return database_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return HttpResponse("<h1>Something went wrong on our side</h1><p>It has been logged.</p>", status=500)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> HttpResponse:
    return _error(
        request,
        403,
        "csrf_failed",
        "Your form expired or came from another site. Reload the page and try again.",
    )
