"""Console pages of request types: a customer's, and the provider's library."""

from __future__ import annotations

from django.urls import path

from tickets.types import console

urlpatterns = [
    path("customers/<slug:slug>/request-types/", console.type_list, name="console-request-types"),
    path(
        "customers/<slug:slug>/request-types/<int:type_id>/", console.type_detail, name="console-request-type"
    ),
    path(
        "customers/<slug:slug>/tickets/<int:ticket_id>/fields/",
        console.ticket_fields,
        name="console-ticket-fields",
    ),
    path("request-types/library/", console.library, name="console-request-library"),
    path(
        "request-types/library/<int:entry_id>/copy/",
        console.library_copy,
        name="console-request-library-copy",
    ),
]
