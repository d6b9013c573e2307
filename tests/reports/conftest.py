"""Writes made directly by these tests (not through a request) run as the named job "tests"."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""
