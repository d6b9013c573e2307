"""Portal pages of the notification feed and the person's preferences: the console's, on the
customer's host (the rules are the provider's, in the console only)."""

from __future__ import annotations

from notifications.urls_console import personal_urlpatterns

urlpatterns = personal_urlpatterns
