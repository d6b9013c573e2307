"""Errors that workflows raise for a broken business rule. Every channel shows them the same
way: the API as ``{"code", "detail", "fields"}`` with ``status``, pages as a message."""

from __future__ import annotations


class RuleViolation(Exception):
    """A request that is well-formed but breaks a rule (``invalid_transition``,
    ``pending_needs_question``, ...). ``field`` names the input at fault, if one is."""

    def __init__(self, code: str, detail: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        self.status = status
