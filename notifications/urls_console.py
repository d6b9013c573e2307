"""Pages of the notification feed; the same on the console and on every portal."""

from __future__ import annotations

from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.feed, name="notifications"),
    path("notifications/read-all/", views.read_all, name="notifications-read-all"),
]
