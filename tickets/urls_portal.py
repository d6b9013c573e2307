"""Portal pages of tickets: the customer's tickets (home), a new ticket, a ticket's page."""

from __future__ import annotations

from django.urls import path

from tickets import portal

urlpatterns = [
    path("", portal.my_tickets, name="home"),
    path("search/", portal.search, name="portal-search"),
    path("tickets/new/", portal.ticket_new, name="portal-ticket-new"),
    path("tickets/<int:ticket_id>/", portal.ticket_detail, name="portal-ticket"),
    path("tickets/<int:ticket_id>/reply/", portal.ticket_reply, name="portal-ticket-reply"),
    path("tickets/<int:ticket_id>/status/", portal.ticket_status, name="portal-ticket-status"),
    path("tickets/<int:ticket_id>/collaborators/", portal.collaborator_add, name="portal-collaborator-add"),
    path(
        "tickets/<int:ticket_id>/collaborators/remove/",
        portal.collaborator_remove,
        name="portal-collaborator-remove",
    ),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        portal.attachment_download,
        name="portal-attachment",
    ),
]
