"""API routes of tickets: the unified queue, and each customer's tickets with what hangs off them
(``customer_urlpatterns``, mounted under ``customers/<slug>/``)."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tickets.api import (
    AttachmentViewSet,
    CommentViewSet,
    TicketCollaboratorViewSet,
    TicketHistoryViewSet,
    TicketLinkViewSet,
    TicketMergeViewSet,
    TicketSlaViewSet,
    TicketViewSet,
)
from tickets.canned.api import CannedResponseViewSet
from tickets.index.api import BulkView, SavedViewViewSet, SearchView, UnifiedQueueView
from tickets.satisfaction.api import RatingViewSet
from tickets.types.api import LibraryTypeViewSet, RequestTypeViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("request-types", RequestTypeViewSet, basename="request-type")
views_router = SimpleRouter()
views_router.register("views", SavedViewViewSet, basename="saved-view")
views_router.register("canned-responses", CannedResponseViewSet, basename="canned-response")
views_router.register("request-types", LibraryTypeViewSet, basename="library-request-type")

ticket_urlpatterns = [
    path("comments/", CommentViewSet.as_view({"get": "list", "post": "create"}), name="ticket-comments"),
    path(
        "attachments/",
        AttachmentViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-attachments",
    ),
    path(
        "attachments/<int:pk>/download/",
        AttachmentViewSet.as_view({"get": "download"}),
        name="ticket-attachment-download",
    ),
    path("history/", TicketHistoryViewSet.as_view({"get": "list"}), name="ticket-history"),
    path("sla/", TicketSlaViewSet.as_view({"get": "retrieve"}), name="ticket-sla"),
    path(
        "rating/",
        RatingViewSet.as_view({"get": "retrieve", "put": "update", "post": "create"}),
        name="ticket-rating",
    ),
    path("merge/", TicketMergeViewSet.as_view({"post": "create", "delete": "destroy"}), name="ticket-merge"),
    path("links/", TicketLinkViewSet.as_view({"get": "list", "post": "create"}), name="ticket-links"),
    path("links/<int:pk>/", TicketLinkViewSet.as_view({"delete": "destroy"}), name="ticket-link-detail"),
    path(
        "collaborators/",
        TicketCollaboratorViewSet.as_view({"get": "list", "post": "create"}),
        name="ticket-collaborators",
    ),
    path(
        "collaborators/<int:pk>/",
        TicketCollaboratorViewSet.as_view({"delete": "destroy"}),
        name="ticket-collaborator-detail",
    ),
]

customer_urlpatterns = [
    path("tickets/<int:ticket_pk>/", include(ticket_urlpatterns)),
    *router.urls,
]

urlpatterns = [
    path("tickets/", UnifiedQueueView.as_view(), name="unified-queue"),
    path("tickets/bulk/", BulkView.as_view(), name="tickets-bulk"),
    *views_router.urls,
    path("search/", SearchView.as_view(), name="search"),
]
