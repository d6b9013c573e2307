"""Work that can wait until the response has gone out, run by the request's own thread right
after the server has sent the response (``response.close()``), not on the request path.

``after_response(action)`` inside a request (``AfterResponseMiddleware``) keeps ``action`` for
then; anywhere else (a task, a command, a shell) runs it at once. Either way a failing action is
logged, never raised: it is for side work whose failure must not undo or fail what is saved
(the broker's enqueue of the notifications of a committed ticket change, say).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial

from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

Action = Callable[[], object]
_pending: ContextVar[list[Action] | None] = ContextVar("serviflow_after_response", default=None)


def after_response(action: Action) -> None:
    pending = _pending.get()
    if pending is None:
        _run([action])
    else:
        pending.append(action)


def _run(actions: list[Action]) -> None:
    for action in actions:
        try:
            action()
        except Exception:
            logger.exception("work after the response failed: %r", action)


class AfterResponseMiddleware:
    """Outermost: whatever response goes out (an error's included) runs the request's actions
    when the server closes it, after the last byte is sent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        pending: list[Action] = []
        token = _pending.set(pending)
        try:
            response = self.get_response(request)
        except BaseException:
            _pending.reset(token)
            _run(pending)
            raise
        _pending.reset(token)
        if pending:
            response._resource_closers.append(partial(_run, pending))  # type: ignore[attr-defined]
        return response
