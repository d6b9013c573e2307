"""Canned responses: who sees and changes which, and their placeholders filled for a ticket.

- A provider agent sees the shared responses, their own personal ones and those limited to a
  customer they work. A ticket of customer C is offered the shared ones, the agent's own and
  C's: never another customer's.
- Anyone writes their own personal responses; shared and customer-limited ones are written by
  provider admins (api.md). Another agent's personal response does not exist for you (404).
- Placeholders are ``{{name}}`` with a name of ``PLACEHOLDERS``. A response is checked when it
  is saved (an unknown placeholder is refused by name) and filled by plain replacement, never
  through a template engine, so a body can carry nothing that runs.
- Saves are audited (``audit.registry``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from core.changes import UNSET, Changes
from core.links import portal_link
from tenants.access import customers_visible_to
from tenants.models import Customer
from tickets.canned.models import CannedResponse, Scope, SetStatus
from tickets.index.services import display_number
from tickets.models import Ticket

NAME_MAX = 80
BODY_MAX = 10_000
MAX_PERSONAL = 200  # personal responses per agent

PLACEHOLDERS: dict[str, str] = {
    "requester": "the requester's name",
    "reference": "the ticket's reference, e.g. ACME-12",
    "agent": "the name of the agent who sends it",
    "customer": "the customer's name",
    "portal_link": "the ticket's address in the customer's portal",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def responses_visible_to(user: User) -> QuerySet[CannedResponse]:
    customers = customers_visible_to(user).values("pk")
    return CannedResponse.objects.filter(
        Q(scope=Scope.SHARED)
        | Q(scope=Scope.PERSONAL, owner=user)
        | Q(scope=Scope.CUSTOMER, customer__in=customers)
    ).select_related("customer")


def offered_on(responses: QuerySet[CannedResponse], customer: Customer | None) -> QuerySet[CannedResponse]:
    """Those of ``responses`` a ticket of ``customer`` is offered: the ones for every customer
    and ``customer``'s own (None: only the ones for every customer)."""
    offered = Q(customer__isnull=True)
    if customer is not None:
        offered |= Q(customer=customer)
    return responses.filter(offered)


def is_offered_on(response: CannedResponse, customer: Customer) -> bool:
    """``offered_on`` for one response already read."""
    return response.customer_id in (None, customer.pk)


def responses_offered(user: User, customer: Customer) -> QuerySet[CannedResponse]:
    """What the reply box of ``customer``'s tickets offers ``user``."""
    return offered_on(responses_visible_to(user), customer)


def placeholders_help() -> str:
    return ", ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)


def response_for(user: User, response_id: int) -> CannedResponse:
    try:
        return responses_visible_to(user).get(pk=response_id)
    except CannedResponse.DoesNotExist:
        raise Http404 from None


def may_change(user: User, response: CannedResponse) -> bool:
    if response.scope == Scope.PERSONAL:
        return response.owner_id == user.pk
    return user.is_provider_admin


def placeholders_in(body: str) -> list[str]:
    return [match.group(1) for match in _PLACEHOLDER.finditer(body)]


@dataclass(frozen=True)
class ResponseFields(Changes):
    name: str = UNSET
    body: str = UNSET
    scope: str = UNSET
    customer: Customer | None = UNSET
    set_status: str | None = UNSET


def _checked(by: User, response: CannedResponse) -> CannedResponse:
    """The response as it would be saved, or ValidationError naming each field at fault."""
    errors: dict[str, list[str]] = {}
    response.name = " ".join((response.name or "").split())
    if not response.name:
        errors["name"] = ["A canned response needs a name."]
    elif len(response.name) > NAME_MAX:
        errors["name"] = [f"At most {NAME_MAX} characters (got {len(response.name)})."]
    response.body = (response.body or "").strip()
    if not response.body:
        errors["body"] = ["A canned response needs a text."]
    elif len(response.body) > BODY_MAX:
        errors["body"] = [f"At most {BODY_MAX:,} characters (got {len(response.body):,})."]
    else:
        unknown = sorted({name for name in placeholders_in(response.body) if name not in PLACEHOLDERS})
        if unknown:
            known = placeholders_help()
            errors["body"] = [
                f"Unknown placeholder {', '.join(f'{{{{{n}}}}}' for n in unknown)}; use {known}."
            ]
    if response.scope not in Scope.values:
        errors["scope"] = [f"One of {', '.join(Scope.values)}."]
    elif response.scope == Scope.CUSTOMER and response.customer_id is None:
        errors["customer"] = ["A response limited to one customer names that customer."]
    elif response.scope != Scope.CUSTOMER and response.customer_id is not None:
        errors["customer"] = ["Only a response limited to one customer names a customer."]
    if response.set_status not in ("", *SetStatus.values):
        errors["set_status"] = [f"null, {' or '.join(SetStatus.values)}."]
    if errors:
        raise ValidationError(errors)
    if (
        response.scope == Scope.CUSTOMER
        and not customers_visible_to(by).filter(pk=response.customer_id).exists()
    ):
        raise ValidationError({"customer": ["No such customer."]})
    response.owner = by if response.scope == Scope.PERSONAL else None
    mine = CannedResponse.objects.filter(scope=Scope.PERSONAL, owner=by)
    if response.scope == Scope.PERSONAL and response.pk is None and mine.count() >= MAX_PERSONAL:
        raise ValidationError(
            {"name": [f"At most {MAX_PERSONAL} personal responses each; delete one first."]}
        )
    return response


def _require_change(by: User, response: CannedResponse) -> None:
    if not may_change(by, response):
        raise PermissionDenied(
            "Only its owner changes a personal response."
            if response.scope == Scope.PERSONAL
            else "Only provider admins change shared and customer responses."
        )


def _save(response: CannedResponse) -> CannedResponse:
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:  # the same name in the same place, maybe by a concurrent save
        raise ValidationError(
            {"name": [f"There is already a response named '{response.name}' there."]}
        ) from None
    return response


def response_create(*, by: User, fields: ResponseFields) -> CannedResponse:
    given = fields.given()
    response = CannedResponse(
        name=given.get("name", ""),
        body=given.get("body", ""),
        scope=given.get("scope", Scope.PERSONAL),
        customer=given.get("customer"),
        set_status=given.get("set_status") or "",
    )
    _require_change(by, _checked(by, response))
    return _save(response)


def response_update(*, by: User, response: CannedResponse, fields: ResponseFields) -> CannedResponse:
    _require_change(by, response)
    given = fields.given()
    if given.get("scope", response.scope) != Scope.CUSTOMER and "customer" not in given:
        given["customer"] = None  # leaving the customer scope leaves the customer
    if "set_status" in given:
        given["set_status"] = given["set_status"] or ""
    for name, value in given.items():
        setattr(response, name, value)
    _require_change(by, _checked(by, response))  # also as it would be (an agent making it shared)
    return _save(response)


def response_delete(*, by: User, response: CannedResponse) -> None:
    _require_change(by, response)
    response.delete()


def response_render(*, response: CannedResponse, customer: Customer, ticket: Ticket, agent: User) -> str:
    """The body with its placeholders filled for ``ticket`` of ``customer``, sent by ``agent``.
    A response limited to another customer is not offered there (404)."""
    if not is_offered_on(response, customer):
        raise Http404
    values = {
        "requester": ticket.requester_user.name,
        "reference": display_number(customer, ticket.number),
        "agent": agent.name,
        "customer": customer.name,
        "portal_link": portal_link(customer.portal_host, "portal-ticket", ticket_id=ticket.pk),
    }
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), response.body)
