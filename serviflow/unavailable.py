"""503 instead of 500 when the database refuses (see serviflow.pooling.is_refusal).

The first middleware to use the database (only core.afterwards' comes before it): it takes the
request's connection from the pool before anything else runs,
so "no connection free within DB_POOL_TIMEOUT", "too many clients" and "server down" all surface
here, in front of django-tenants' host lookup and the session, and are answered at once. A refusal
later on, in the view, comes back through ``process_exception``. (Middleware further in cannot be
caught from here: Django turns their exceptions into responses on the spot; with DEBUG off the
500 handler, serviflow.views.server_error, answers those 503 too.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse

from serviflow.pooling import is_refusal
from serviflow.views import database_unavailable

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(settings.STATIC_URL):  # static files need no database
            try:
                connection.ensure_connection()
            except OperationalError as exc:
                if not is_refusal(exc):
                    raise
                return self._unavailable(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_refusal(exception):
            return None
        return self._unavailable(request, exception)

    def _unavailable(self, request: HttpRequest, exc: BaseException) -> HttpResponse:
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
        return database_unavailable(request)
