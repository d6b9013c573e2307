"""Delivering a notification: the in-app row first (once per person and event), then its email."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
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


def notify(*, user: User, message: Message, event_key: str) -> Notification | None:
    """Idempotent per ``(user, event_key)``: a repeated run returns the existing row and sends
    its email only if the earlier run died before sending it. Inactive people get nothing."""
    if not user.is_active:
        return None
    notification = Notification.objects.filter(user=user, event_key=event_key).first()
    if notification is None:
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    user=user,
                    kind=message.kind,
                    customer=message.customer,
                    ticket_id=message.ticket_id,
                    ticket_number=message.ticket_number,
                    title=message.title,
                    body=message.body,
                    url=message.url,
                    event_key=event_key,
                )
        except IntegrityError:  # a concurrent run of the same event got there first
            return Notification.objects.get(user=user, event_key=event_key)
    if notification.emailed_at is None:
        _email(user, notification)
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return notification


def _email(user: User, notification: Notification) -> None:
    context = {"user": user, "notification": notification}
    send_mail(
        subject=notification.title,
        message=render_to_string("notifications/email/notification.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the person's own notifications read (all unread ones when ``ids`` is None)."""
    unread = notifications_for(user).unread()
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
