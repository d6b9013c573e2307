"""What a person may read of a customer's tickets. Views and API use only these getters, so a
ticket outside someone's reach is "not found" everywhere, never half-shown."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, When
from django.db.models.functions import Cast
from django.http import Http404

from accounts.models import CustomerRole, User
from audit.models import AuditEntry
from cmdb.models import ConfigurationItem
from tenants.access import CustomerAccess
from tickets.collaborators import collaborating_ids
from tickets.index.services import display_number, ticket_prefix
from tickets.models import Attachment, Comment, Status, Ticket, TicketNumber


def sees_all_tickets(access: CustomerAccess) -> bool:
    """Agents and the customer's admins see every ticket of the customer; other users theirs."""
    return access.works_tickets or access.customer_role == CustomerRole.ADMIN


def sees_private(access: CustomerAccess) -> bool:
    return access.works_tickets


def _own_or_copied(access: CustomerAccess) -> Q:
    """A customer user's tickets: those they requested and those they are copied on (a
    collaborator's object permission, read afresh on every request)."""
    return Q(requester_user=access.user) | Q(pk__in=collaborating_ids(access.user))


def tickets_visible(access: CustomerAccess) -> QuerySet[Ticket]:
    # The requester's profile too: every ticket page asks for its SLA override (tickets.sla.policy).
    tickets = Ticket.objects.select_related("requester", "requester_user", "assignee", "ci", "rating")
    if not sees_all_tickets(access):
        tickets = tickets.filter(_own_or_copied(access))
    return tickets


def tickets_known_count(tickets: QuerySet[Ticket]) -> int | None:
    """How many tickets ``tickets`` (a list of the active schema) holds, read without counting
    them when nothing narrows it: then it holds every ticket of the customer, and that is the
    last number handed out (``workflows.ticket_create`` takes each number from the one counter
    row in the ticket's own transaction, so a rolled-back create gives its number back, and
    tickets are never deleted). None when a filter narrows the list: count it."""
    query = tickets.query
    if query.where or query.is_sliced or query.combinator or query.distinct:
        return None
    return TicketNumber.objects.values_list("last_number", flat=True).first() or 0


def ticket_for(access: CustomerAccess, ticket_id: int | str) -> Ticket:
    try:
        return tickets_visible(access).get(pk=int(ticket_id))
    except (Ticket.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def ticket_locked(access: CustomerAccess, ticket_id: int | str) -> Ticket:
    """``ticket_for``, its row locked until the caller's transaction ends (a save that checks
    what the person saw against what is there now)."""
    try:
        return tickets_visible(access).select_for_update(of=("self",)).get(pk=int(ticket_id))
    except (Ticket.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


# What a live ticket page shows changes with (beside the latest comment it may read).
LIVE_FIELDS = (
    "status",
    "priority",
    "assignee_id",
    "ci_id",
    "sla_policy_id",
    "first_response_due",
    "resolution_due",
    "first_response_breached_at",
    "resolution_breached_at",
    "sla_recorded",
)


def ticket_version(access: CustomerAccess, ticket_id: int | str) -> tuple[Any, ...]:
    """The version of what a ticket page shows ``access``, in one cheap query: the ticket's
    fields that the page shows and the latest comment it may read. Agents' pages also change
    with ``updated_at``; a customer's does not (a private note must not show as a change)."""
    comments = Comment.objects.filter(ticket=OuterRef("pk"))
    if not sees_private(access):
        comments = comments.filter(public=True)
    fields = (*LIVE_FIELDS, "updated_at") if sees_private(access) else LIVE_FIELDS
    latest = Subquery(comments.order_by("-id").values("id")[:1])
    try:
        row = Ticket.objects.filter(pk=int(ticket_id))
        if not sees_all_tickets(access):
            row = row.filter(_own_or_copied(access))
        found = row.values_list(*fields, latest).first()
    except (ValueError, OverflowError):
        found = None
    if found is None:
        raise Http404
    return tuple(found)


def _with_merged(ticket: Ticket) -> Q:
    """The ticket's own rows and those of the duplicates merged into it (``tickets.family``)."""
    return Q(ticket=ticket) | Q(ticket__merged_into=ticket)


def comments_visible(access: CustomerAccess, ticket: Ticket) -> QuerySet[Comment]:
    """The thread, with the threads of the duplicates merged into the ticket; ``merged_from``
    is the duplicate's number on their comments (None on the ticket's own)."""
    comments = (
        Comment.objects.filter(_with_merged(ticket))
        .select_related("author")
        .annotate(merged_from=Case(When(ticket=ticket, then=None), default=F("ticket__number")))
    )
    if not sees_private(access):
        comments = comments.filter(public=True)
    return comments.prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))


def attachments_visible(access: CustomerAccess, ticket: Ticket) -> QuerySet[Attachment]:
    attachments = Attachment.objects.filter(_with_merged(ticket)).select_related("comment")
    if not sees_private(access):
        attachments = attachments.exclude(comment__public=False)
    return attachments


def attachment_for(access: CustomerAccess, ticket: Ticket, attachment_id: int | str) -> Attachment:
    try:
        return attachments_visible(access, ticket).get(pk=int(attachment_id))
    except (Attachment.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def thread(access: CustomerAccess, ticket: Ticket) -> dict[str, Any]:
    """What a ticket page (console or portal) shows of the conversation, as ``access`` may."""
    into = (
        Ticket.objects.filter(pk=ticket.merged_into_id).values_list("number", flat=True).first()
        if ticket.merged_into_id is not None
        else None
    )
    return {
        "ticket": ticket,
        "number": display_number(access.customer, ticket.number),
        "prefix": ticket_prefix(access.customer),
        "comments": comments_visible(access, ticket),
        "attachments": attachments_visible(access, ticket).filter(comment__isnull=True),
        # the duplicates merged into this ticket (their descriptions head their part of the
        # thread), and the ticket this one was merged into
        "merged_tickets": list(ticket.merged_from.select_related("requester_user").order_by("number")),
        "merged_into_number": display_number(access.customer, into) if into is not None else None,
    }


# What a customer user may read in a ticket's history (the rest is agents' business).
CUSTOMER_VISIBLE_CHANGES = frozenset(
    {"subject", "description", "status", "priority", "ci", "body", "public", "merged_into"}
)
# How the policy was chosen, in words and in full: for provider staff (``sla_explain`` likewise).
HIERARCHY_CHANGES = frozenset({"sla_reason", "sla_snapshot"})
# What names the ticket's CI: not for a reader whose access leaves out the CMDB.
CMDB_CHANGES = frozenset({"ci", "sla_reason"})


def changes_shown(access: CustomerAccess, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields of a history entry's ``changes`` that ``access`` may read."""
    hidden: set[str] = set()
    if not access.is_provider_staff:
        hidden |= HIERARCHY_CHANGES
    if not access.sees_cmdb:
        hidden |= CMDB_CHANGES
    return {
        name: value
        for name, value in changes.items()
        if name not in hidden and (sees_private(access) or name in CUSTOMER_VISIBLE_CHANGES)
    }


def actor_shown(entry: AuditEntry, reader: User) -> dict[str, Any] | None:
    """Who made a history entry, as ``reader`` may know them: provider staff are shown to the
    customer's side by name only (their email is the provider's business), everyone else by
    email too. None for a named job."""
    if entry.actor_id is None:
        return None
    actor: User | None = entry.actor
    by_name_only = actor is not None and actor.is_provider_staff and not reader.is_provider_staff
    return {
        "id": entry.actor_id,
        "name": actor.name if actor is not None else "",
        "email": None if by_name_only else entry.actor_email,
    }


def history_for(access: CustomerAccess, ticket: Ticket) -> QuerySet[AuditEntry]:
    """The ticket's audit entries and those of the comments ``access`` may see."""
    ticket_type = ContentType.objects.get_for_model(Ticket)
    comment_type = ContentType.objects.get_for_model(Comment)
    comments = ticket.comments.all() if sees_private(access) else ticket.comments.filter(public=True)
    comment_ids = comments.annotate(key=Cast("pk", CharField())).values("key")
    entries: QuerySet[AuditEntry] = (
        AuditEntry.objects.filter(
            Q(content_type=ticket_type, object_pk=str(ticket.pk))
            | Q(content_type=comment_type, object_pk__in=comment_ids)
        )
        .select_related("content_type", "actor")
        .order_by("timestamp", "id")
    )
    return entries


def history_seen(access: CustomerAccess, ticket_id: int) -> int:
    """The latest history entry of the ticket ``access`` may read (0: none): what a page saw,
    so that a later poll announces what came after it and a save refuses to overwrite it.
    Read before the ticket itself, so the page never claims to have seen more than it shows."""
    ticket = Ticket(pk=ticket_id)
    return history_for(access, ticket).aggregate(seen=Max("id"))["seen"] or 0


def tickets_of_ci(
    access: CustomerAccess, ci: ConfigurationItem, limit: int = 50
) -> list[tuple[str, list[Ticket]]]:
    """The tickets linked to the CI that ``access`` may see: open ones, then past ones."""
    linked = tickets_visible(access).filter(ci=ci).order_by("-created_at", "-id")
    return [
        ("Open", list(linked.filter(status__in=[Status.OPEN, Status.PENDING])[:limit])),
        ("Past", list(linked.filter(status__in=[Status.RESOLVED, Status.CLOSED])[:limit])),
    ]
