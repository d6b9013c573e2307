"""The feed's filter (``serviflow.filters``): ``unread=true`` for the unread ones only."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification
from serviflow.filters import FilterSet, FlagFilter


class NotificationFilterSet(FilterSet):
    unread = FlagFilter(method="by_unread", help_text="true: only what you have not read yet")

    class Meta:
        model = Notification
        fields: list[str] = []

    def by_unread(self, feed: QuerySet[Notification], name: str, value: bool) -> QuerySet[Notification]:
        return feed.filter(read_at__isnull=True) if value else feed
