from __future__ import annotations

import uuid
from typing import Any

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from tenants.models import Customer

PST_OFFSET = 8  # America/Los_Angeles in November: UTC-8


def occasional(name: str, timezone: str, customers: tuple[Customer, ...] = (), **kw: Any) -> User:
    """A new occasional agent with a unique email."""
    with job_context("tests.agents"):
        return agent_create(
            fields=AgentFields(
                email=f"{name.lower()}-{uuid.uuid4().hex[:6]}@msp.test",
                name=name,
                licence=Licence.OCCASIONAL,
                timezone=timezone,
                customers=customers,
                **kw,
            ),
            password=None,
        )
