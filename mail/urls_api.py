"""API routes of the email channel: the triage list (provider staff), the IMAP mailboxes
(provider admins) and, per customer, its mail settings (``customer_urlpatterns``, mounted
under ``customers/<slug>/``)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from mail.api import MailSettingsViewSet, TriageViewSet
from mail.mailboxes.api import MailboxViewSet

router = SimpleRouter()
router.register("email/triage", TriageViewSet, basename="email-triage")
router.register("email/mailboxes", MailboxViewSet, basename="mailbox")

customer_urlpatterns = [
    path(
        "email/",
        MailSettingsViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"}),
        name="customer-email",
    ),
]

urlpatterns = [*router.urls]
