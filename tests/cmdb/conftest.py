"""Shared by the CMDB tests: direct writes run as the job "tests"; helpers to build CIs."""

from __future__ import annotations

from typing import Any

import pytest

from cmdb import services
from cmdb.models import ConfigurationItem
from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import Cast

CIS = "/api/v1/customers/acme/cis/"


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Every direct write in these tests is attributed to the job "tests"."""


def policy(name: str) -> SlaPolicy:
    policy: SlaPolicy = SlaPolicy.objects.create(
        name=name, targets={**STANDARD_TARGETS, "P1": {"first_response": 30, "resolution": 240}}
    )
    return policy


def make_ci(customer: Customer, name: str, ci_type: str = "server", **kw: Any) -> ConfigurationItem:
    with customer_schema(customer):
        return services.ci_create(
            customer=customer, by=None, new=services.NewCi(name=name, type=ci_type, **kw)
        )


def chain(cast: Cast, names: list[str], **root: Any) -> list[ConfigurationItem]:
    """CIs of Acme, each the parent of the next; ``root`` goes to the first."""
    made: list[ConfigurationItem] = []
    for name in names:
        extra = root if not made else {"parent": made[-1]}
        made.append(make_ci(cast.acme, name, **extra))
    return made
