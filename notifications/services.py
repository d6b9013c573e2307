"""Delivering a notification: the in-app row first (once per person and event), then its email,
at once or, inside the person's quiet hours, in the digest sent when they end (``digests_send``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.cache import caches
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from core.parsers import zone_or_utc
from notifications.hooks import email_headers
from notifications.models import Notification, NotificationPreference
from notifications.selectors import notifications_for
from tenants.models import Customer

logger = logging.getLogger(__name__)


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
    # The channels the rules chose for this person (``notifications.rules``): the feed, the email.
    in_app: bool = True
    email: bool = True
    # P1 tickets and SLA breaches: their email goes through quiet hours.
    urgent: bool = False


Delivery = tuple[User, Message, str]  # (person, what to tell them, the event's key)


def notify_many(deliveries: list[Delivery], *, now: datetime | None = None) -> int:
    """Deliver a batch, idempotently per ``(person, event key)``: rows that do not exist yet are
    inserted in one statement (an existing or concurrently inserted one is skipped by the unique
    key), then each row not yet emailed is emailed and marked, so a repeated run sends only what
    an earlier run died before sending, and a concurrent run nothing (``_email_once``). A
    non-urgent email inside the person's quiet hours is held for their digest instead (its
    in-app row shows at once). Inactive people get nothing. Returns how many people now have
    their notification."""
    deliveries = [item for item in deliveries if item[0].is_active and (item[1].in_app or item[1].email)]
    if not deliveries:
        return 0
    now = now or timezone.now()
    quiet = quiet_hours_of([user for user, message, _ in deliveries if message.email and not message.urgent])
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
                in_app=message.in_app,
                email=message.email,
                held_until=(
                    held_until(quiet.get(user.pk), user, now)
                    if message.email and not message.urgent
                    else None
                ),
            )
            for user, message, event_key in deliveries
        ],
        ignore_conflicts=True,
    )
    users = {user.pk: user for user, _, _ in deliveries}
    wanted = {(user.pk, event_key) for user, _, event_key in deliveries}
    unsent = (
        Notification.objects.filter(
            event_key__in={key for _, key in wanted},
            user__in=users,
            email=True,
            emailed_at__isnull=True,
            held_until__isnull=True,
        )
        .select_related("customer")  # the email's headers name it (notifications.hooks)
        .order_by("id")
    )
    for notification in unsent:
        if (notification.user_id, notification.event_key) in wanted:
            _email_once(users[notification.user_id], notification)
    return len(wanted)


# --- quiet hours ---------------------------------------------------------------------------------


def quiet_hours_of(users: list[User]) -> dict[int, tuple[time, time]]:
    """The quiet hours of those of ``users`` who set them, by person (one query)."""
    if not users:
        return {}
    found = NotificationPreference.objects.filter(
        user__in={user.pk for user in users}, quiet_from__isnull=False, quiet_to__isnull=False
    ).values_list("user_id", "quiet_from", "quiet_to")
    return {user_id: (start, end) for user_id, start, end in found if start is not None and end is not None}


def held_until(quiet: tuple[time, time] | None, user: User, now: datetime) -> datetime | None:
    """When ``user``'s quiet hours that hold ``now`` end, or None outside them. Local times in
    the person's own time zone; a start after the end spans midnight (22:00-07:00)."""
    if quiet is None:
        return None
    start, end = quiet
    zone = zone_or_utc(user.timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, ends_on = start <= clock < end, local.date()
    elif start > end:
        inside = clock >= start or clock < end
        ends_on = local.date() + timedelta(days=1) if clock >= start else local.date()
    else:
        return None
    if not inside:
        return None
    return datetime.combine(ends_on, end, tzinfo=zone)


def digests_send(*, now: datetime | None = None) -> int:
    """Send each person whose quiet hours have ended one digest of the emails held for them,
    one transaction per person, claimed before it is sent as ``_email_once`` does: their held
    rows are locked (a concurrent run skips them) and marked emailed, the digest is sent, and
    the claim commits. A failed send rolls back that person's claim alone (logged), so the next
    run sends their digest and nobody else's again. Returns how many digests went out."""
    now = now or timezone.now()
    due = Notification.objects.filter(email=True, emailed_at__isnull=True, held_until__lte=now)
    sent = 0
    for user_id in due.order_by("user_id").values_list("user_id", flat=True).distinct():
        try:
            sent += _digest_once(due.filter(user_id=user_id), now)
        except Exception:
            logger.exception("The digest of user %s was not sent; the next run tries again.", user_id)
    return sent


def _digest_once(held: QuerySet[Notification], now: datetime) -> int:
    """Claim one person's held rows (locked, marked emailed), send their digest, commit: 1 when
    a digest went out (none to an inactive person, whose rows are only marked)."""
    with transaction.atomic():
        notifications = list(
            held.select_related("user", "customer")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("created_at", "id")
        )
        if not notifications:
            return 0  # a concurrent run has them
        Notification.objects.filter(pk__in=[row.pk for row in notifications]).update(emailed_at=now)
        user = notifications[0].user
        if not user.is_active:
            return 0
        _digest(user, notifications)
        return 1


def _digest(user: User, notifications: list[Notification]) -> None:
    count = len(notifications)
    context = {"user": user, "notifications": notifications}
    EmailMessage(
        subject=f"ServiFlow: {count} notification{'s' if count != 1 else ''} from your quiet hours",
        body=render_to_string("notifications/email/digest.txt", context),
        to=[user.email],
    ).send()


# How long a mail the relay accepted is remembered in Redis (``_email_once``): far longer than
# any outage the re-drive (``tickets.outbox``) would retry through.
SENT_MARK_SECONDS = 24 * 3600


def sent_mark_key(notification: Notification) -> str:
    return f"notification-emailed:{notification.pk}"


def _email_once(user: User, notification: Notification) -> None:
    """Claim the row (marked emailed), send, commit: a concurrent run's claim waits for this
    commit and then finds the row sent; a failed send rolls the claim back for the next run.

    The one gap is a commit that fails after the relay accepted the mail (the database went
    away in between): the claim rolls back and the next run would send it again. So a sent mail
    is also marked in Redis before the commit, and a run that finds the mark records the row as
    emailed without sending (the mail's Message-ID row, written with the lost send, is gone with
    that transaction: a reply to it still finds its ticket by the signed reply address)."""
    marks = caches["platform"]
    with transaction.atomic():
        claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True)
        if not claimed.update(emailed_at=timezone.now()):
            return
        if marks.get(sent_mark_key(notification)):
            logger.warning(
                "notification %s: sent by a run whose commit failed; recorded now", notification.pk
            )
            return
        _email(user, notification)
        marks.set(sent_mark_key(notification), 1, timeout=SENT_MARK_SECONDS)


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
