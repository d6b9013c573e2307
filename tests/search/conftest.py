"""Search tests: writes made directly run as the job "tests" (as in the ticket tests)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""
