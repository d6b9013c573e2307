"""Who else follows a ticket: collaborators (customer users copied on a colleague's ticket),
watchers (agents who asked to hear of it) and agents ``@mentioned`` in a private note.

A collaborator's right to one ticket is a django-guardian object permission
(``tickets.collaborate_ticket``), stored in the customer's own schema (guardian is a tenant
app): it exists only where the ticket does, and removing it takes the access away on the next
request (``tickets.selectors.tickets_visible`` reads it every time; nothing caches it).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BigIntegerField, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import CustomerRole, User
from core.errors import RuleViolation
from core.parsers import is_id
from people.models import CustomerUser
from tenants.access import CustomerAccess, ticket_workers
from tenants.models import Customer
from tenants.schema import require_schema
from tickets.models import Ticket, Watcher

PERMISSION = "collaborate_ticket"
_QUALIFIED = f"tickets.{PERMISSION}"


@cache
def _permission_id() -> int:
    """The id of the permission (a public row, made by migrate; read once per process)."""
    ticket_type = ContentType.objects.get_for_model(Ticket)
    return int(Permission.objects.get(content_type=ticket_type, codename=PERMISSION).pk)


def _grants() -> QuerySet[UserObjectPermission]:
    return UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Ticket), permission_id=_permission_id()
    )


def collaborating_ids(user: User) -> QuerySet[Any, dict[str, Any]]:
    """The ids of the tickets ``user`` collaborates on, as a subquery (``pk__in=``)."""
    return _grants().filter(user=user).annotate(ticket=Cast("object_pk", BigIntegerField())).values("ticket")


def collaborators_of(ticket: Ticket) -> QuerySet[User]:
    grants = _grants().filter(object_pk=str(ticket.pk)).values("user_id")
    return User.objects.filter(pk__in=grants).order_by("name", "pk")


def collaborators_by_ticket(tickets: list[Ticket]) -> dict[int, list[User]]:
    """The collaborators of several tickets in one query (a page of a list)."""
    if not tickets:
        return {}
    grants = _grants().filter(object_pk__in=[str(t.pk) for t in tickets]).select_related("user")
    found: dict[int, list[User]] = {t.pk: [] for t in tickets}
    for grant in grants.order_by("user__name", "user_id"):
        found[int(grant.object_pk)].append(grant.user)
    return found


def is_collaborator(ticket: Ticket, user: User) -> bool:
    return _grants().filter(object_pk=str(ticket.pk), user=user).exists()


def grant(ticket: Ticket, user: User) -> bool:
    """Make ``user`` a collaborator of ``ticket``; False when they already were."""
    if is_collaborator(ticket, user):
        return False
    assign_perm(_QUALIFIED, user, ticket)
    return True


def revoke(ticket: Ticket, user: User) -> None:
    remove_perm(_QUALIFIED, user, ticket)


def may_manage(access: CustomerAccess, ticket: Ticket) -> bool:
    """Agents, the customer's admins and the ticket's requester copy people on a ticket."""
    return (
        (access.writes_tickets and access.works_tickets)
        or access.customer_role == CustomerRole.ADMIN
        or ticket.requester_user_id == access.user.pk
    )


def collaborator_add(
    *, customer: Customer, access: CustomerAccess, ticket: Ticket, profile: CustomerUser
) -> User:
    """Copy ``profile`` (a user of this customer) on ``ticket``: they see it in their portal
    and may reply. Adding someone already copied changes nothing."""
    require_schema(customer, "tickets")
    if not may_manage(access, ticket):
        raise PermissionDenied(
            "Only agents, your company's admins and the ticket's requester add colleagues."
        )
    person = profile.user
    if not person.is_active:
        raise ValidationError({"user": ["That user is deactivated."]})
    if person.pk == ticket.requester_user_id:
        raise ValidationError({"user": ["That user is the ticket's requester already."]})
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()  # one change at a time
        if locked is None or locked.is_closed:
            raise RuleViolation(
                "ticket_closed", "This ticket is closed; nobody new is copied on it.", status=409
            )
        grant(ticket, person)
    return person


def collaborator_remove(*, customer: Customer, access: CustomerAccess, ticket: Ticket, user: User) -> None:
    """Take a collaborator off the ticket (they may take themselves off): the ticket is out of
    their reach from the next request on."""
    require_schema(customer, "tickets")
    if not (may_manage(access, ticket) or user.pk == access.user.pk):
        raise PermissionDenied(
            "Only agents, your company's admins and the ticket's requester remove colleagues."
        )
    revoke(ticket, user)


def collaborator_for(ticket: Ticket, profile_id: object) -> User:
    """A collaborator of ``ticket`` by their profile id (404 otherwise)."""
    profile = (
        CustomerUser.objects.select_related("user").filter(pk=int(str(profile_id))).first()
        if is_id(profile_id)
        else None
    )
    if profile is None or not is_collaborator(ticket, profile.user):
        raise Http404
    return profile.user


def collaborator_rows(ticket: Ticket) -> list[dict[str, Any]]:
    """A ticket page's collaborators: each person with their profile id (what a removal names)."""
    people = list(collaborators_of(ticket))
    profiles = profiles_of(people)
    return [{"user": person, "profile": profiles.get(person.pk)} for person in people]


def profiles_of(users: list[User]) -> dict[int, int]:
    """user id -> customer-user profile id (what the API calls a user), one query."""
    return dict(CustomerUser.objects.filter(user__in=users).values_list("user_id", "pk"))


# --- watchers ------------------------------------------------------------------------------------


def is_watching(ticket: Ticket, user: User) -> bool:
    return Watcher.objects.filter(ticket=ticket, user=user).exists()


def watch(*, customer: Customer, access: CustomerAccess, ticket: Ticket, on: bool) -> None:
    """An agent starts (``on``) or stops watching the ticket."""
    require_schema(customer, "tickets")
    if not access.works_tickets:
        raise PermissionDenied("Only agents watch tickets.")
    if on:
        Watcher.objects.get_or_create(ticket=ticket, user=access.user)
    else:
        for watcher in Watcher.objects.filter(ticket=ticket, user=access.user):
            watcher.delete()  # one by one: each removal is audited


def watchers_of(ticket: Ticket) -> QuerySet[User]:
    return User.objects.filter(pk__in=Watcher.objects.filter(ticket=ticket).values("user_id"), is_active=True)


# --- mentions ------------------------------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@.])@([^\W_][\w.\-]{0,99})")


def mentioned(customer: Customer, body: str) -> list[User]:
    """The agents a private note ``@mentions``, among those who work the customer's tickets:
    ``@ada`` (a first name only one of them has), ``@AdaAdmin`` (the whole name without
    spaces) or ``@ada.admin`` (the part of their email before the @), case-insensitively."""
    wanted = {token.rstrip(".-").casefold() for token in _MENTION.findall(body)}
    if not wanted:
        return []
    workers = list(ticket_workers(customer))
    firsts: dict[str, list[User]] = {}
    for worker in workers:
        if worker.name.split():
            firsts.setdefault(worker.name.split()[0].casefold(), []).append(worker)
    found: dict[int, User] = {}
    for worker in workers:
        names = {"".join(worker.name.split()).casefold(), worker.email.split("@")[0].casefold()}
        if names & wanted:
            found[worker.pk] = worker
    for token in wanted:
        if len(firsts.get(token, [])) == 1:
            found.setdefault(firsts[token][0].pk, firsts[token][0])
    return list(found.values())
