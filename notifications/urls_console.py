"""Pages of the notification feed and the person's preferences (the same on the console and on
every portal), and the console's pages of notification rules."""

from __future__ import annotations

from django.urls import path

from notifications import console, views

personal_urlpatterns = [
    path("notifications/", views.feed, name="notifications"),
    path("notifications/read-all/", views.read_all, name="notifications-read-all"),
    path("notifications/preferences/", console.preferences, name="notification-preferences"),
]

urlpatterns = [
    *personal_urlpatterns,
    path("notifications/rules/", console.provider_rules, name="console-notification-rules"),
    path(
        "notifications/rules/<int:notification_rule_id>/delete/",
        console.provider_rule_delete,
        name="console-notification-rule-delete",
    ),
    path(
        "customers/<slug:slug>/notifications/", console.customer_rules, name="console-customer-notifications"
    ),
    path(
        "customers/<slug:slug>/notifications/<int:customer_notification_rule_id>/delete/",
        console.customer_rule_delete,
        name="console-customer-notification-rule-delete",
    ),
]
