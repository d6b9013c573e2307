"""Which SLA policy a ticket runs on: the facts of the hierarchy (the ticket's override, its
requester's override, its CI's effective policy, its request type's policy) gathered here and
judged by the engine (``sla.engine.resolution``)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from accounts.models import Scope, ScopeLevel
from cmdb.selectors import effective_policy
from sla.engine.resolution import Held, Resolution, SlaReader, Step, policy_resolve, policy_steps
from tenants.access import scope_level

if TYPE_CHECKING:
    from accounts.models import User
    from tenants.models import Customer
    from tickets.models import Ticket


def _requester(ticket: Ticket) -> Held | None:
    requester = ticket.requester
    if requester is None:
        return None
    # The ticket keeps the requester's user beside the profile (read with it on every page).
    user = ticket.requester_user if ticket.requester_user_id == requester.user_id else requester.user
    return Held(policy_id=requester.sla_policy_id, who=user.name if user is not None else "")


def _ci(ticket: Ticket) -> Held | None:
    if ticket.ci is None:
        return None
    effective = effective_policy(ticket.ci)
    return Held(policy_id=effective.policy_id, who=effective.reason)


def _request_type(ticket: Ticket) -> Held | None:
    """A ticket without a request type costs no query (``request_type_id`` is on the row)."""
    if ticket.request_type_id is None:
        return None
    request_type = ticket.request_type
    assert request_type is not None  # noqa: S101 (narrowing for the type checker)
    return Held(policy_id=request_type.sla_policy_id, who=request_type.name)


def ticket_policy_steps(customer: Customer, ticket: Ticket) -> Iterator[Step]:
    """The hierarchy's levels for ``ticket`` as it is now (looked up lazily, level by level)."""
    yield from policy_steps(
        customer,
        override=ticket.sla_policy,
        requester=partial(_requester, ticket),
        ci=partial(_ci, ticket),
        request_type=partial(_request_type, ticket),
    )


def ticket_resolution(customer: Customer, ticket: Ticket) -> Resolution:
    return policy_resolve(
        customer,
        override=ticket.sla_policy,
        requester=partial(_requester, ticket),
        ci=partial(_ci, ticket),
        request_type=partial(_request_type, ticket),
    )


def sla_reader(user: User) -> SlaReader:
    """What ``user`` may be told of how a ticket's policy was chosen: the hierarchy is for
    provider staff (who set policies); CI names for those whose access includes the CMDB."""
    return SlaReader(
        hierarchy=user.is_provider_staff, names_cis=scope_level(user, Scope.CMDB) != ScopeLevel.NONE
    )
