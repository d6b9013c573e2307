"""Console pages of tickets: the unified queue (home), a customer's page, ticket pages."""

from __future__ import annotations

from django.urls import include, path

from tickets import console

urlpatterns = [
    path("", console.queue, name="home"),
    path("", include("tickets.types.urls_console")),
    path("queue/bulk/", console.queue_bulk, name="console-queue-bulk"),
    path("queue/views/", console.view_create, name="console-view-create"),
    path("queue/views/<int:view_id>/", console.view_change, name="console-view-change"),
    path("search/", console.search, name="console-search"),
    path("canned/", console.canned_list, name="console-canned"),
    path("canned/<int:canned_id>/", console.canned_edit, name="console-canned-edit"),
    path("customers/<slug:slug>/", console.customer_detail, name="console-customer"),
    path("customers/<slug:slug>/tickets/new/", console.ticket_new, name="console-ticket-new"),
    path("customers/<slug:slug>/tickets/<int:ticket_id>/", console.ticket_detail, name="console-ticket"),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/change/",
        console.ticket_change,
        name="console-ticket-change",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/sla/",
        console.ticket_sla_override,
        name="console-ticket-sla",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/sla/preview/",
        console.ticket_sla_preview,
        name="console-ticket-sla-preview",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/reply/",
        console.ticket_reply,
        name="console-ticket-reply",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/canned/",
        console.canned_pick,
        name="console-canned-pick",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/canned/fill/",
        console.canned_fill,
        name="console-canned-fill",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/time/",
        console.ticket_time,
        name="console-ticket-time",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/merge/",
        console.ticket_merge,
        name="console-ticket-merge",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/merge/undo/",
        console.ticket_unmerge,
        name="console-ticket-unmerge",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/links/",
        console.ticket_link,
        name="console-ticket-link",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/links/remove/",
        console.ticket_unlink,
        name="console-ticket-unlink",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/collaborators/",
        console.collaborator_add,
        name="console-collaborator-add",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/collaborators/remove/",
        console.collaborator_remove,
        name="console-collaborator-remove",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/watch/",
        console.ticket_watch,
        name="console-ticket-watch",
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        console.attachment_download,
        name="console-attachment",
    ),
]
