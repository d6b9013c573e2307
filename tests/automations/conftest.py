"""Shared by the automation tests: direct writes run as the job "tests"; rules are made through
the services (as their API does) and run after commit, so tests that change tickets run the
commit callbacks (``run_after_commit``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from accounts.models import User
from automations import services
from automations.models import Rule
from tenants.models import Customer
from tests.conftest import Cast


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


def make_rule(cast: Cast, customer: Customer | None, *, by: User | None = None, **body: Any) -> Rule:
    """A rule written as its API writes it (Alice, the provider admin, owns it by default)."""
    return services.rule_create(by=by or cast.alice, customer=customer, fields=services.RuleFields(**body))


@pytest.fixture
def run_after_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """A block whose commit callbacks (the rules, and those the rules' changes note) run at its
    end, as they would after a real commit."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return block
