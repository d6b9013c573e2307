"""Portal pages of the notification feed: the console's, on the customer's host."""

from __future__ import annotations

from notifications.urls_console import urlpatterns

__all__ = ["urlpatterns"]
