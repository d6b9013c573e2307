"""Console pages of the email channel."""

from __future__ import annotations

from django.urls import path

from mail import console
from mail.mailboxes import console as mailboxes

urlpatterns = [
    path("mail/triage/", console.triage, name="mail-triage"),
    path("mail/triage/<int:mail_id>/assign/", console.triage_assign, name="mail-triage-assign"),
    path("mail/triage/<int:mail_id>/discard/", console.triage_discard, name="mail-triage-discard"),
    path("mail/mailboxes/", mailboxes.mailbox_list, name="mail-mailboxes"),
    path("mail/mailboxes/<int:mailbox_id>/", mailboxes.mailbox_edit, name="mail-mailbox"),
    path("mail/mailboxes/<int:mailbox_id>/delete/", mailboxes.mailbox_delete, name="mail-mailbox-delete"),
    path("customers/<slug:slug>/email/", console.mail_settings, name="mail-settings"),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/mail/<int:inbound_id>/",
        console.original,
        name="mail-original",
    ),
]
