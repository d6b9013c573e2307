"""What a person may read of a customer's tickets. Views and API use only these getters, so a
ticket outside someone's reach is "not found" everywhere, never half-shown."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from accounts.models import CustomerRole
from tenants.access import CustomerAccess
from tickets.models import Attachment, Comment, Ticket


def sees_all_tickets(access: CustomerAccess) -> bool:
    """Agents and the customer's admins see every ticket of the customer; other users theirs."""
    return access.works_tickets or access.customer_role == CustomerRole.ADMIN


def sees_private(access: CustomerAccess) -> bool:
    return access.works_tickets


def tickets_visible(access: CustomerAccess) -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("requester_user", "assignee")
    if not sees_all_tickets(access):
        tickets = tickets.filter(requester_user=access.user)
    return tickets


def ticket_for(access: CustomerAccess, ticket_id: int | str) -> Ticket:
    try:
        return tickets_visible(access).get(pk=int(ticket_id))
    except (Ticket.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def comments_visible(access: CustomerAccess, ticket: Ticket) -> QuerySet[Comment]:
    comments = ticket.comments.select_related("author")
    if not sees_private(access):
        comments = comments.filter(public=True)
    return comments.prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))


def attachments_visible(access: CustomerAccess, ticket: Ticket) -> QuerySet[Attachment]:
    attachments = ticket.attachments.select_related("comment")
    if not sees_private(access):
        attachments = attachments.exclude(comment__public=False)
    return attachments


def attachment_for(access: CustomerAccess, ticket: Ticket, attachment_id: int | str) -> Attachment:
    try:
        return attachments_visible(access, ticket).get(pk=int(attachment_id))
    except (Attachment.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None
