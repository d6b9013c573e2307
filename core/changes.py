"""Partial updates, one convention for every service.

A service that changes some fields of an object takes a frozen dataclass derived from
``Changes`` whose fields default to ``UNSET``: a field left ``UNSET`` is not touched, ``None``
is a value (clear it). ``given()`` is what the caller asked to change::

    @dataclass(frozen=True)
    class CustomerChanges(Changes):
        name: str = UNSET
        default_sla: SlaPolicy | None = UNSET

    customer_update(customer=acme, changes=CustomerChanges(default_sla=None))
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class Unset:
    """The type of ``UNSET``; ``isinstance(value, Unset)`` asks "was it given?"."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:  # one UNSET per process, so ``is UNSET`` always works
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = Unset()


@dataclass(frozen=True)
class Changes:
    """Base of every partial update; subclasses declare the fields, all defaulting to UNSET."""

    def given(self) -> dict[str, Any]:
        """Field name -> value, for the fields the caller set."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNSET}

    def __contains__(self, name: str) -> bool:
        return getattr(self, name, UNSET) is not UNSET

    def __bool__(self) -> bool:
        return bool(self.given())
