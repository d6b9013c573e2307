from __future__ import annotations

from accounts.models import User
from notifications.models import Notification, NotificationQuerySet
from tenants.access import customers_visible_to


def notifications_for(user: User) -> NotificationQuerySet:
    """A person's feed, limited to customers they may still see (a membership that ended
    takes that customer's notifications with it)."""
    visible = customers_visible_to(user).values("pk")
    feed: NotificationQuerySet = Notification.objects.shown().filter(user=user, customer__in=visible)
    return feed.select_related("customer")


def unread_count(user: User) -> int:
    return notifications_for(user).unread().count()
