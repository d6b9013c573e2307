"""Running a workflow to see what it would do, keeping nothing.

``rehearse(action)`` runs ``action`` in a savepoint that is always rolled back: every rule of the
workflow is checked and every number computed by the very code a real call runs (a preview can
never disagree with the save), and nothing it wrote remains. Callbacks it registered with
``transaction.on_commit`` are dropped with the savepoint, so no email or task leaves either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import transaction

T = TypeVar("T")


def rehearse(action: Callable[[], T]) -> T:
    """``action()``'s result (or its exception), with everything it wrote rolled back."""
    with transaction.atomic():
        try:
            return action()
        finally:
            transaction.set_rollback(True)
