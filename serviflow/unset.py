"""``UNSET``: "not given" in partial updates, where ``None`` is a value (clear the field)."""

from __future__ import annotations

from typing import Any


class Unset:
    """The type of ``UNSET``; ``isinstance(value, Unset)`` asks "was it given?"."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()
