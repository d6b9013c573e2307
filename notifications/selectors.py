from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from notifications.models import Notification
from tenants.access import customers_visible_to


def notifications_for(user: User) -> QuerySet[Notification]:
    """A person's feed, limited to customers they may still see (a membership that ended
    takes that customer's notifications with it)."""
    visible = customers_visible_to(user).values("pk")
    return Notification.objects.filter(user=user, customer__in=visible).select_related("customer")


def unread_count(user: User) -> int:
    return notifications_for(user).unread().count()
