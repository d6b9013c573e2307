"""Tickets that belong together: a duplicate merged into its target, and links (related, parent
and child). Everything here runs inside one customer's schema, so a ticket of another customer
is never found (404), never merged into and never linked.

The SLA rule of a merge (declared in the README's SLA section and traced on the duplicate's
timeline): the target keeps its own clocks; the duplicate's clocks stop at the merge with
"merged into ACME-12" as the reason, and a breach it already had stays recorded. Undoing the
merge (within ``UNDO_WITHIN``) restarts them from the status it had, "merge into ACME-12 undone".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.errors import RuleViolation
from core.parsers import clean_text, is_id
from sla.engine.keeping import SLA_FIELDS, sla_compute, sla_move, timers_write
from tenants.access import CustomerAccess
from tenants.models import Customer
from tenants.schema import require_schema
from tickets import collaborators
from tickets.events import party_of, record_event
from tickets.index.search import parse_reference, search_write
from tickets.index.services import display_number, index_write, ticket_prefix
from tickets.models import (
    ACTIVE_STATUSES,
    EventKind,
    LinkAs,
    LinkKind,
    Merge,
    Party,
    Status,
    Ticket,
    TicketLink,
)
from tickets.selectors import ticket_for

UNDO_WITHIN = timedelta(days=1)
# How the API names a link, seen from the ticket it is read on.
LINK_KINDS = tuple(LinkAs.values)
_REFERENCE_HINT = "give the ticket's id or its reference (ACME-12)"


def ticket_from(access: CustomerAccess, value: object, *, field: str) -> Ticket:
    """Another ticket of this customer named in an input, by id or reference (``ACME-12``):
    a reference with another customer's prefix, or an id this customer does not have, is
    404, exactly like a ticket of another customer in a URL."""
    text = clean_text(value, field=field).strip() if value is not None else ""
    if not text:
        raise ValidationError({field: [f"Name the other ticket: {_REFERENCE_HINT}."]})
    if is_id(text):
        return ticket_for(access, text)
    reference = parse_reference(text)
    if reference is None:
        raise ValidationError({field: [f"'{text[:30]}' is not a ticket: {_REFERENCE_HINT}."]})
    if reference.prefix != ticket_prefix(access.customer):
        raise Http404
    found = Ticket.objects.filter(number=reference.number).values_list("pk", flat=True).first()
    if found is None:
        raise Http404
    return ticket_for(access, found)


def _reference(customer: Customer, ticket: Ticket) -> str:
    return display_number(customer, ticket.number)


def _require_agent(by: User, what: str) -> None:
    if party_of(by) != Party.AGENT:
        raise PermissionDenied(f"Only agents {what}.")


def open_children(ticket: Ticket) -> list[Ticket]:
    """The ticket's children that are still open or pending (a parent waits for them)."""
    return list(
        Ticket.objects.filter(
            links_in__source=ticket, links_in__kind=LinkKind.PARENT, status__in=ACTIVE_STATUSES
        ).order_by("number")
    )


def refuse_with_open_children(
    customer: Customer, ticket: Ticket, becoming: str, *, field: str | None = "status", status: int = 400
) -> None:
    """A parent is not resolved (nor closed, nor merged away) while a child is open."""
    children = open_children(ticket)
    if children:
        names = ", ".join(_reference(customer, child) for child in children)
        raise RuleViolation(
            "children_open",
            f"{_reference(customer, ticket)} cannot become {becoming} while its child tickets are "
            f"open: {names}. Resolve them first.",
            field=field,
            status=status,
        )


# --- merge ---------------------------------------------------------------------------------------


def _lock_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Both tickets re-read under their row locks, always in id order (no deadlock between two
    merges of the same pair in opposite directions)."""
    locked = {
        ticket.pk: ticket
        for ticket in Ticket.objects.select_for_update()
        .select_related("requester_user")
        .filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
    }
    return locked[first.pk], locked[second.pk]


def ticket_merge(*, customer: Customer, duplicate: Ticket, target: Ticket, by: User) -> Ticket:
    """Merge ``duplicate`` into ``target`` (both of ``customer``): the duplicate closes with a
    pointer to the target, its thread and files show in the target, its requester becomes a
    collaborator of the target, and later replies to it go to the target."""
    require_schema(customer, "tickets")
    _require_agent(by, "merge tickets")
    if duplicate.pk == target.pk:
        raise ValidationError({"into": ["A ticket cannot be merged into itself."]})
    now = timezone.now()
    with transaction.atomic():
        duplicate, target = _lock_pair(duplicate, target)
        dup_ref, target_ref = _reference(customer, duplicate), _reference(customer, target)
        if duplicate.merged_into_id is not None:
            raise RuleViolation(
                "already_merged", f"{dup_ref} is already merged into another ticket.", status=409
            )
        if duplicate.is_closed:
            raise RuleViolation(
                "ticket_closed", f"{dup_ref} is closed; only open tickets are merged.", status=409
            )
        if target.merged_into_id is not None:
            raise RuleViolation(
                "target_merged",
                f"{target_ref} was itself merged into another ticket; merge into that one instead.",
                field="into",
                status=409,
            )
        if target.is_closed:
            raise RuleViolation(
                "ticket_closed",
                f"{target_ref} is closed; merge into an open ticket.",
                field="into",
                status=409,
            )
        if merged := list(duplicate.merged_from.values_list("number", flat=True)):
            names = ", ".join(display_number(customer, number) for number in merged)
            raise RuleViolation(
                "has_merged_tickets",
                f"{names} {'was' if len(merged) == 1 else 'were'} merged into {dup_ref}: merge into "
                f"{dup_ref} instead, or undo {'that merge' if len(merged) == 1 else 'those merges'} first.",
                status=409,
            )
        refuse_with_open_children(customer, duplicate, "merged", field=None, status=409)
        previous = duplicate.status
        sla_move(duplicate, Status.CLOSED, by=by.name, reason=f"merged into {target_ref}", now=now)
        duplicate.status, duplicate.closed_at = Status.CLOSED, now
        duplicate.merged_into, duplicate.updated_at = target, now
        clocks = sla_compute(duplicate, now)  # stopped; breaches already recorded stay
        duplicate.save(update_fields=["status", "closed_at", "merged_into", "updated_at", *SLA_FIELDS])
        timers_write(customer=customer, ticket=duplicate, views=clocks)
        person = duplicate.requester_user
        added = None
        if duplicate.requester_id is not None and person.pk != target.requester_user_id:
            granted = collaborators.grant(target, person)
            # the merge owns the access it granted, or shares it with another standing merge
            if granted or _merges_sharing(target, person.pk).exists():
                added = person
        Merge.objects.create(
            duplicate=duplicate,
            target=target,
            previous_status=previous,
            collaborator_added=added,
            merged_by=by,
            merged_at=now,
        )
        target.updated_at = now
        target.save(update_fields=["updated_at"])
        index_write(customer=customer, tickets=[duplicate], clocks={duplicate.pk: clocks})
        index_write(customer=customer, tickets=[target])
        search_write(customer=customer, tickets=[duplicate])
        record_event(
            duplicate,
            EventKind.UPDATED,
            by,
            changes={"status": [previous, Status.CLOSED], "merged_into": [None, target_ref]},
        )
    return target


def merge_undo(*, customer: Customer, duplicate: Ticket, by: User) -> Ticket:
    """Undo the standing merge of ``duplicate`` within a day of it: the duplicate gets its status
    back and its clocks run again from there; a collaborator the merge added loses that access."""
    require_schema(customer, "tickets")
    _require_agent(by, "undo a merge")
    now = timezone.now()
    with transaction.atomic():
        duplicate = Ticket.objects.select_for_update().get(pk=duplicate.pk)
        merge = (
            Merge.objects.select_for_update()
            .select_related("target")
            .filter(duplicate=duplicate, undone_at__isnull=True)
            .first()
        )
        dup_ref = _reference(customer, duplicate)
        if merge is None:
            raise RuleViolation("not_merged", f"{dup_ref} is not merged into another ticket.", status=409)
        if now - merge.merged_at > UNDO_WITHIN:
            raise RuleViolation(
                "undo_expired",
                f"A merge can be undone within a day; {dup_ref} was merged at "
                f"{merge.merged_at:%Y-%m-%d %H:%M} UTC.",
                status=409,
            )
        target_ref = _reference(customer, merge.target)
        sla_move(
            duplicate, merge.previous_status, by=by.name, reason=f"merge into {target_ref} undone", now=now
        )
        duplicate.status, duplicate.closed_at = merge.previous_status, None
        duplicate.merged_into, duplicate.updated_at = None, now
        clocks = sla_compute(duplicate, now)
        duplicate.save(update_fields=["status", "closed_at", "merged_into", "updated_at", *SLA_FIELDS])
        timers_write(customer=customer, ticket=duplicate, views=clocks)
        person_id = merge.collaborator_added_id
        if (
            person_id is not None
            and not _merges_sharing(merge.target, person_id).exclude(pk=merge.pk).exists()
        ):
            collaborators.revoke(merge.target, User(pk=person_id))
        merge.undone_at, merge.undone_by = now, by
        merge.save(update_fields=["undone_at", "undone_by"])
        index_write(customer=customer, tickets=[duplicate], clocks={duplicate.pk: clocks})
        search_write(customer=customer, tickets=[duplicate])
        record_event(
            duplicate,
            EventKind.UPDATED,
            by,
            changes={"status": [Status.CLOSED, merge.previous_status], "merged_into": [target_ref, None]},
        )
    return duplicate


def _merges_sharing(target: Ticket, person_id: int) -> QuerySet[Merge]:
    """The standing merges into ``target`` that copied ``person_id`` on it."""
    return Merge.objects.filter(target=target, undone_at__isnull=True, collaborator_added_id=person_id)


def standing_merge(ticket: Ticket) -> Merge | None:
    """The merge that closed ``ticket``, if it stands (the page offers its undo)."""
    if ticket.merged_into_id is None:
        return None
    return Merge.objects.filter(duplicate=ticket, undone_at__isnull=True).first()


def may_undo(merge: Merge | None, now: Any = None) -> bool:
    return merge is not None and (now or timezone.now()) - merge.merged_at <= UNDO_WITHIN


# --- links ---------------------------------------------------------------------------------------


def link_add(*, customer: Customer, ticket: Ticket, by: User, kind: str, other: Ticket) -> TicketLink:
    """Link ``other`` to ``ticket`` as its ``kind``: ``related``, ``parent`` (``other`` is the
    parent of ``ticket``) or ``child`` (``other`` is a child of ``ticket``). A child has one
    parent, and no ticket becomes its own ancestor."""
    require_schema(customer, "tickets")
    _require_agent(by, "link tickets")
    if kind not in LINK_KINDS:
        raise ValidationError(
            {"kind": [f"'{str(kind)[:20]}' is not a link kind; use related, parent or child."]}
        )
    if other.pk == ticket.pk:
        raise ValidationError({"ticket": ["A ticket cannot be linked to itself."]})
    source, target = (other, ticket) if kind == "parent" else (ticket, other)
    stored = LinkKind.RELATED if kind == "related" else LinkKind.PARENT
    with transaction.atomic():
        source, target = _lock_pair(source, target)
        pair = Q(source=source, target=target) | Q(source=target, target=source)
        if TicketLink.objects.filter(pair).exists():
            raise RuleViolation(
                "already_linked",
                f"{_reference(customer, ticket)} and {_reference(customer, other)} are already linked; "
                "remove that link first to change its kind.",
                status=409,
            )
        if stored == LinkKind.PARENT:
            _refuse_second_parent(customer, target)
            _refuse_cycle(customer, parent=source, child=target)
            if source.status not in ACTIVE_STATUSES and target.status in ACTIVE_STATUSES:
                raise RuleViolation(
                    "parent_resolved",
                    f"{_reference(customer, source)} is {source.status}: an open ticket cannot become "
                    "its child. Reopen it first.",
                    status=409,
                )
        try:
            with transaction.atomic():
                link = TicketLink.objects.create(
                    source=source, target=target, kind=stored, created_by=by, created_at=timezone.now()
                )
        except IntegrityError:  # a concurrent link of the same pair or parent won
            raise RuleViolation(
                "already_linked", "These tickets were just linked by someone else.", status=409
            ) from None
    return link


def _refuse_second_parent(customer: Customer, child: Ticket) -> None:
    parent = Ticket.objects.filter(links_out__target=child, links_out__kind=LinkKind.PARENT).first()
    if parent is not None:
        raise RuleViolation(
            "has_parent",
            f"{_reference(customer, child)} already has a parent, {_reference(customer, parent)}; "
            "remove that link first.",
            status=409,
        )


def _refuse_cycle(customer: Customer, *, parent: Ticket, child: Ticket) -> None:
    """``child`` may not be ``parent`` itself nor one of its ancestors."""
    seen: set[int] = set()
    current: int | None = parent.pk
    while current is not None and current not in seen:
        if current == child.pk:
            raise RuleViolation(
                "link_cycle",
                f"{_reference(customer, child)} is an ancestor of {_reference(customer, parent)}; "
                "a ticket cannot be its own ancestor.",
                field="kind",
            )
        seen.add(current)
        current = (
            TicketLink.objects.filter(target_id=current, kind=LinkKind.PARENT)
            .values_list("source_id", flat=True)
            .first()
        )


def link_remove(*, customer: Customer, ticket: Ticket, by: User, link: TicketLink) -> None:
    require_schema(customer, "tickets")
    _require_agent(by, "unlink tickets")
    if ticket.pk not in (link.source_id, link.target_id):
        raise Http404
    link.delete()


def links_of(ticket: Ticket) -> QuerySet[TicketLink]:
    return TicketLink.objects.filter(Q(source=ticket) | Q(target=ticket)).select_related("source", "target")


def link_for(ticket: Ticket, link_id: object) -> TicketLink:
    link = links_of(ticket).filter(pk=int(str(link_id))).first() if is_id(link_id) else None
    if link is None:
        raise Http404
    return link


def link_seen_from(link: TicketLink, ticket: Ticket) -> tuple[str, Ticket]:
    """What the other end of ``link`` is to ``ticket``: (related|parent|child, the other)."""
    if link.source_id == ticket.pk:
        return ("related" if link.kind == LinkKind.RELATED else "child"), link.target
    return ("related" if link.kind == LinkKind.RELATED else "parent"), link.source


def family_of(links: list[TicketLink], ticket: Ticket) -> dict[str, list[Ticket]]:
    """The ticket page's family: its parent, children and related tickets."""
    family: dict[str, list[Ticket]] = {"parent": [], "child": [], "related": []}
    for link in links:
        kind, other = link_seen_from(link, ticket)
        family[kind].append(other)
    return family


def teamwork(access: CustomerAccess, ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows of the ticket's family and people (a few queries, whatever
    the thread's length)."""
    merge = standing_merge(ticket)
    links = [
        {
            "id": link.pk,
            "kind": kind,
            "ticket": other,
            "number": display_number(access.customer, other.number),
        }
        for link in links_of(ticket)
        for kind, other in [link_seen_from(link, ticket)]
    ]
    return {
        "links": links,
        "collaborators": collaborators.collaborator_rows(ticket),
        "watching": access.works_tickets and collaborators.is_watching(ticket, access.user),
        "merge_undo": may_undo(merge),
    }
