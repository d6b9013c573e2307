"""Which SLA policy applies to a ticket, and why (``spec/sla.md``, first match wins):

1. the ticket's own override; 2. the requester's override; 3. the ticket's configuration item
(its own policy, else the nearest ancestor's); 4. the ticket's request type, when it names a
policy; 5. the customer's active contract, when it names a policy; 6. the customer's default;
7. the provider's default. The answer carries ``source`` and a ``reason`` naming the object that
decided; the explanation endpoint shows every level with what it holds.

The engine is told what the requester, the CI and the request type hold (``Held``); looking them
up is the ticket's business (``tickets.sla.policy``), so the engine knows nothing of people, the
CMDB or request types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django.utils import timezone

from contracts.services import contract_policy, local_today
from sla.models import PolicySource, SlaPolicy

if TYPE_CHECKING:
    from tenants.models import Customer


@dataclass(frozen=True)
class Step:
    """One level of the hierarchy: the policy it holds (if any) and a sentence about it."""

    source: str
    policy: SlaPolicy | None
    text: str

    @property
    def policy_id(self) -> int | None:
        return self.policy.pk if self.policy is not None else None


@dataclass(frozen=True)
class Held:
    """What a requester, a CI or a request type holds for the hierarchy: a policy (by id) or none,
    and who holds it, in words ("Ann Lee", "db-01 inherits 'Gold' from rack-3", "New starter")."""

    policy_id: int | None
    who: str


@dataclass(frozen=True)
class Resolution:
    policy: SlaPolicy
    source: str
    reason: str


@dataclass(frozen=True)
class SlaReader:
    """What a reader may be told of how a ticket's policy was chosen. Provider staff see the
    hierarchy (every level, the policies other levels hold, the reasons naming who decided);
    customer-side people (the customer's users, admins and own agents) only the ticket's own
    policy. ``names_cis`` is False for a reader whose access leaves out the CMDB: a CI is then
    "the ticket's configuration item", never its name."""

    hierarchy: bool = True
    names_cis: bool = True


FULL_VIEW = SlaReader()
NO_CI = "no configuration item"

# A reason that names nothing but the ticket's own policy, by the level that decided.
OWN_POLICY_REASONS: dict[str, str] = {
    PolicySource.TICKET: "this ticket has its own SLA policy '{policy}'",
    PolicySource.REQUESTER: "the requester's SLA policy '{policy}'",
    PolicySource.CI: "the SLA policy of the ticket's configuration item, '{policy}'",
    PolicySource.REQUEST_TYPE: "the SLA policy of the ticket's request type, '{policy}'",
    PolicySource.CONTRACT: "the SLA policy of the company's contract, '{policy}'",
    PolicySource.CUSTOMER: "the company's default SLA policy '{policy}'",
    PolicySource.DEFAULT: "the service provider's default SLA policy '{policy}'",
}


def reason_shown(source: str, reason: str, policy_name: str, reader: SlaReader) -> str:
    """The stored ``reason`` of a ticket's policy as ``reader`` may read it."""
    if reader.hierarchy and (reader.names_cis or source != PolicySource.CI):
        return reason
    return OWN_POLICY_REASONS.get(source, "the ticket's SLA policy '{policy}'").format(policy=policy_name)


def step_text_shown(step: Step, reader: SlaReader) -> str:
    """A level of the hierarchy as ``reader`` may read it (only readers who see the hierarchy
    are shown its levels; without the CMDB, the CI level does not name the CI)."""
    if reader.names_cis or step.source != PolicySource.CI or step.text == NO_CI:
        return step.text
    if step.policy is None:
        return "the ticket's configuration item has no SLA policy"
    return f"the ticket's configuration item has policy '{step.policy.name}'"


def provider_default() -> SlaPolicy:
    policy = _policies().filter(is_default=True).first()
    if policy is None:  # sla.services never lets the last default go; a database edit did
        raise RuntimeError("no provider default SLA policy: mark one policy as the default")
    return policy


def _policies() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.select_related("business_hours")


def _policy(policy_id: int | None) -> SlaPolicy | None:
    return None if policy_id is None else _policies().filter(pk=policy_id).first()


def _customer_default(customer: Customer) -> SlaPolicy | None:
    """The customer's default policy, as the customer was read with it (``customer_access``
    does), else looked up."""
    if customer.default_sla_id is not None and customer._meta.get_field("default_sla").is_cached(customer):
        return cast(SlaPolicy, customer.default_sla)
    return _policy(customer.default_sla_id)


def policy_steps(
    customer: Customer,
    *,
    override: SlaPolicy | None,
    requester: Callable[[], Held | None],
    ci: Callable[[], Held | None],
    request_type: Callable[[], Held | None] = lambda: None,
) -> Iterator[Step]:
    """The levels, in order, each looked up only when the one before did not decide (a
    caller that stops at the first policy pays for the levels up to it: ``requester``, ``ci``
    and ``request_type`` are asked only when their level is reached)."""
    if override is not None:
        yield Step(PolicySource.TICKET, override, f"ticket override '{override.name}'")
    else:
        yield Step(PolicySource.TICKET, None, "no override on the ticket")
    held_by_requester = requester()
    if held_by_requester is None:
        yield Step(PolicySource.REQUESTER, None, "the requester is not one of the customer's users")
    else:
        held = _policy(held_by_requester.policy_id)
        name = held_by_requester.who
        text = f"requester {name} has override '{held.name}'" if held else f"requester {name} has no override"
        yield Step(PolicySource.REQUESTER, held, text)
    held_by_ci = ci()
    if held_by_ci is None:
        yield Step(PolicySource.CI, None, NO_CI)
    else:
        yield Step(PolicySource.CI, _policy(held_by_ci.policy_id), f"CI {held_by_ci.who}")
    held_by_type = request_type()
    if held_by_type is None:
        yield Step(PolicySource.REQUEST_TYPE, None, "no request type")
    else:
        held = _policy(held_by_type.policy_id)
        name = held_by_type.who
        text = f"request type '{name}' has " + (f"policy '{held.name}'" if held else "no policy")
        yield Step(PolicySource.REQUEST_TYPE, held, text)
    contract = contract_policy(customer, local_today(customer))
    if contract is not None and contract.sla_policy is not None:
        policy = _policy(contract.sla_policy_id)
        named = contract.sla_policy.name
        text = f"customer {customer.name} has contract '{contract.name}' with policy '{named}'"
        yield Step(PolicySource.CONTRACT, policy, text)
    else:
        yield Step(
            PolicySource.CONTRACT, None, f"customer {customer.name} has no active contract naming a policy"
        )
    default = _customer_default(customer)
    if default is not None:
        yield Step(PolicySource.CUSTOMER, default, f"customer {customer.name} has default '{default.name}'")
    else:
        yield Step(PolicySource.CUSTOMER, None, f"customer {customer.name} has no default policy")
    provider = provider_default()
    yield Step(PolicySource.DEFAULT, provider, f"provider default '{provider.name}'")


def policy_resolve(
    customer: Customer,
    *,
    override: SlaPolicy | None,
    requester: Callable[[], Held | None],
    ci: Callable[[], Held | None],
    request_type: Callable[[], Held | None] = lambda: None,
) -> Resolution:
    """The first level that holds a policy decides; the provider default always does."""
    steps = policy_steps(customer, override=override, requester=requester, ci=ci, request_type=request_type)
    decided = next(step for step in steps if step.policy is not None)
    assert decided.policy is not None  # noqa: S101 (narrowing for the type checker)
    return Resolution(policy=decided.policy, source=decided.source, reason=decided.text)


def policy_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    """What a ticket keeps of its policy: later edits of the policy change new tickets only."""
    hours = policy.business_hours
    return {
        "policy": {"id": policy.pk, "name": policy.name},
        "targets": policy.targets,
        "warning_percent": policy.warning_percent,
        "business_hours": hours.as_profile() if hours is not None else None,
        "taken_at": timezone.now().isoformat(),
    }
