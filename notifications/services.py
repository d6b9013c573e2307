"""Delivering a notification: the in-app row first (once per person and event), then its email."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from notifications.hooks import email_headers
from notifications.models import Notification
from notifications.selectors import notifications_for
from tenants.models import Customer


@dataclass(frozen=True)
class Message:
    kind: str
    customer: Customer
    title: str
    body: str
    url: str
    ticket_id: int | None = None
    ticket_number: str = ""
    subject: str = ""  # the email's subject, when it is not the title (a ticket's mail, email.md)


Delivery = tuple[User, Message, str]  # (person, what to tell them, the event's key)


def notify_many(deliveries: list[Delivery]) -> int:
    """Deliver a batch, idempotently per ``(person, event key)``: rows that do not exist yet are
    inserted in one statement (an existing or concurrently inserted one is skipped by the unique
    key), then each row not yet emailed is emailed and marked, so a repeated run sends only what
    an earlier run died before sending. Inactive people get nothing. Returns how many people now
    have their notification."""
    deliveries = [item for item in deliveries if item[0].is_active]
    if not deliveries:
        return 0
    Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                kind=message.kind,
                customer=message.customer,
                ticket_id=message.ticket_id,
                ticket_number=message.ticket_number,
                title=message.title,
                email_subject=message.subject[:300],
                body=message.body,
                url=message.url,
                event_key=event_key,
            )
            for user, message, event_key in deliveries
        ],
        ignore_conflicts=True,
    )
    users = {user.pk: user for user, _, _ in deliveries}
    wanted = {(user.pk, event_key) for user, _, event_key in deliveries}
    unsent = (
        Notification.objects.filter(
            event_key__in={key for _, key in wanted}, user__in=users, emailed_at__isnull=True
        )
        .select_related("customer")  # the email's headers name it (notifications.hooks)
        .order_by("id")
    )
    for notification in unsent:
        if (notification.user_id, notification.event_key) in wanted:
            _email(users[notification.user_id], notification)
            Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return len(wanted)


def _email(user: User, notification: Notification) -> None:
    context = {"user": user, "notification": notification}
    EmailMessage(
        subject=notification.email_subject or notification.title,
        body=render_to_string("notifications/email/notification.txt", context),
        to=[user.email],
        headers=email_headers(notification),
    ).send()


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the person's own notifications read (all unread ones when ``ids`` is None)."""
    unread = notifications_for(user).unread()
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
