"""One change applied to many tickets, each through its own workflow and transaction.

``tickets_bulk`` runs the same verb of ``tickets.workflows`` the ticket page would (assign,
status, priority, a private note) for each ticket in turn, with the same rules and audit entries
(the caller's channel, web or api), so one refusal undoes nothing else. Each ticket is reached
through the customer gate as a single request would be: a customer the caller may not see, or
a ticket they may not open, is reported ``not_found``, exactly as an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from accounts.models import User
from core.errors import RuleViolation
from tenants.access import CustomerAccess, customer_access
from tenants.schema import customer_schema
from tickets import selectors, workflows
from tickets.index.services import display_number

MAX_TICKETS = 500
ACTIONS = ("assign", "status", "priority", "note")
NOT_FOUND = "No such ticket."


@dataclass(frozen=True)
class Target:
    customer: str  # slug
    id: int


@dataclass(frozen=True)
class Outcome:
    customer: str
    id: int
    ok: bool
    code: str = ""
    detail: str = ""
    number: str = ""  # ACME-12, once the ticket was found

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"customer": self.customer, "id": self.id, "ok": self.ok}
        if not self.ok:
            body |= {"code": self.code, "detail": self.detail}
        return body

    @property
    def sentence(self) -> str:
        """How a page reports it: "ACME-12: changed" or "ACME-12: <why not>"."""
        who = self.number or f"{self.customer} #{self.id}"
        return f"{who}: {'changed' if self.ok else self.detail}"


Apply = Callable[[CustomerAccess, Any], object]


def _assign(access: CustomerAccess, ticket: Any, value: User | None) -> object:
    return workflows.ticket_assign(customer=access.customer, ticket=ticket, by=access.user, assignee=value)


def _status(access: CustomerAccess, ticket: Any, value: str) -> object:
    return workflows.ticket_transition(customer=access.customer, ticket=ticket, by=access.user, status=value)


def _priority(access: CustomerAccess, ticket: Any, value: str) -> object:
    return workflows.ticket_reprioritise(
        customer=access.customer, ticket=ticket, by=access.user, priority=value
    )


def _note(access: CustomerAccess, ticket: Any, value: str) -> object:
    return workflows.comment_add(
        customer=access.customer, ticket=ticket, by=access.user, body=value, public=False
    )


VERBS: dict[str, Callable[[CustomerAccess, Any, Any], object]] = {
    "assign": _assign,
    "status": _status,
    "priority": _priority,
    "note": _note,
}


def tickets_bulk(*, by: User, targets: Sequence[Target], action: str, value: Any) -> list[Outcome]:
    """Apply ``action`` with ``value`` (already read: an agent or None for assign, a status, a
    priority, a note's text) to each target; one outcome per target, in the order given."""
    if action not in VERBS:
        raise ValidationError({"action": [f"Unknown action; use one of {', '.join(ACTIONS)}."]})
    if len(targets) > MAX_TICKETS:
        raise ValidationError({"tickets": [f"At most {MAX_TICKETS} tickets at once."]})
    return [_one(by, target, VERBS[action], value) for target in targets]


def _one(by: User, target: Target, verb: Callable[[CustomerAccess, Any, Any], object], value: Any) -> Outcome:
    number = ""
    try:
        access = customer_access(by, target.customer)
        if not access.works_tickets:
            raise Http404
        access.require_scope("tickets", write=True)
        with customer_schema(access.customer):
            ticket = selectors.ticket_for(access, target.id)
            number = display_number(access.customer, ticket.number)
            verb(access, ticket, value)
    except Http404:
        return Outcome(target.customer, target.id, ok=False, code="not_found", detail=NOT_FOUND)
    except RuleViolation as exc:
        return Outcome(target.customer, target.id, False, exc.code, exc.detail, number)
    except PermissionDenied as exc:
        detail = str(exc) or "You are not allowed to do that."
        return Outcome(target.customer, target.id, False, "permission_denied", detail, number)
    except ValidationError as exc:
        detail = (
            " ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            if hasattr(exc, "error_dict")
            else " ".join(exc.messages)
        )
        return Outcome(target.customer, target.id, False, "invalid", detail, number)
    return Outcome(target.customer, target.id, ok=True, number=number)
