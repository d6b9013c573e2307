"""What the SLA offers the apps above it, so that it never imports them.

Tickets, CIs and customer users (in every customer's schema) point at SLA policies. A policy in
use must never be deleted, so the apps that hold such references name them here from their
``AppConfig.ready`` (``policy_referenced_by``), and ``sla.services.sla_policy_delete`` probes
them in every schema (``tenants.across.first_match``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model


@dataclass(frozen=True)
class PolicyReference:
    model: type[Model]  # a model of the customers' schemas
    field: str  # its foreign key to sla.SlaPolicy
    label: str  # what it is, for the refusal: "a CI", "a user's SLA override"


_references: list[PolicyReference] = []


def policy_referenced_by(model: type[Model], field: str, label: str) -> None:
    reference = PolicyReference(model, field, label)
    if reference not in _references:
        _references.append(reference)


def policy_references() -> tuple[PolicyReference, ...]:
    return tuple(_references)
