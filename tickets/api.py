"""API: a customer's tickets, ``/api/v1/customers/{slug}/tickets/`` and what hangs off them."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, parsers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from audit.models import AuditEntry
from cmdb.selectors import ci_from
from core.errors import RuleViolation
from core.parsers import parse_id
from people.models import CustomerUser
from people.selectors import profile_from
from serviflow.api.schema import error
from serviflow.api.strict import JSONParser
from serviflow.api.views import CustomerScopedViewSet
from serviflow.filters import FilterBackend
from serviflow.live import etag
from sla.presenters import sla_explain
from tickets import selectors, workflows
from tickets.attachments import attachment_response
from tickets.filtersets import TicketFilterSet
from tickets.models import Attachment, Comment, Ticket
from tickets.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentSerializer,
    HistoryEntrySerializer,
    TicketCreateSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from tickets.sla.policy import sla_reader

PARSERS = [JSONParser, parsers.MultiPartParser, parsers.FormParser]


def requester_from(value: str | None) -> CustomerUser | None:
    """A customer user of the active schema, by profile id or email."""
    return profile_from(value, field="requester")


def assignee_from(value: str | None, caller: User) -> User | None:
    """An agent by id, or ``me``; None for an empty value."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text == "me":
        return caller
    user = User.objects.filter(pk=parse_id(text, field="assignee", what="an agent's id")).first()
    if user is None:
        raise ValidationError({"assignee": [f"No agent with id '{text}' (give an id, 'me' or null)."]})
    return user


PRECONDITION_FAILED = (
    "`precondition_failed`: `If-Match` was sent and no longer matches the ticket's `ETag` "
    "(someone changed it since you read it); nothing was changed."
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: the `ETag` of the ticket as you read it. The change is made only if "
    "the ticket is still that version, else 412 `precondition_failed`. Without it the change "
    "applies to the ticket as it is now.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="The ticket's version, for `If-Match` on a later PATCH.",
)


def ticket_etag(ticket: Ticket) -> str:
    """The version of a ticket the API hands out: whatever changes the ticket changes it."""
    return etag(
        (
            "ticket",
            ticket.pk,
            ticket.updated_at,
            ticket.first_response_breached_at,
            ticket.resolution_breached_at,
            ticket.sla_recorded,
        )
    )


def tagged(response: Response, ticket: Ticket) -> Response:
    response["ETag"] = ticket_etag(ticket)
    return response


def if_match(sent: str, current: str) -> bool:
    """Whether an ``If-Match`` header names ``current`` (``*``: any version; weak tags compare
    by their value)."""
    tags = [tag.strip().removeprefix("W/") for tag in sent.split(",")]
    return any(tag == "*" or tag == current for tag in tags)


class TicketScopedViewSet(CustomerScopedViewSet):
    """Shared by everything under a ticket: the serializer context every representation needs."""

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access"):
            context["customer"] = self.access.customer
            context["access"] = self.access  # what the caller may read (CIs, the SLA's reasons)
        return context

    def ticket(self) -> Ticket:
        return selectors.ticket_for(self.access, self.kwargs["ticket_pk"])


class TicketViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    TicketScopedViewSet,
):
    serializer_class = TicketSerializer
    parser_classes = PARSERS
    http_method_names = ["get", "post", "patch", "head", "options"]
    method_hints = {
        "PUT": "Use PATCH to change a ticket.",
        "DELETE": "Tickets are never deleted; resolve or close them instead.",
    }
    filter_backends = [FilterBackend]
    filterset_class = TicketFilterSet

    def get_queryset(self) -> QuerySet[Ticket]:
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        return selectors.tickets_visible(self.access)

    def get_object(self) -> Ticket:
        return selectors.ticket_for(self.access, self.kwargs["pk"])

    def known_count(self, tickets: QuerySet[Ticket]) -> int | None:
        """The list's ``count`` without ``COUNT(*)`` when nothing narrows it (the pagination)."""
        return selectors.tickets_known_count(tickets)

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TicketCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ticket = workflows.ticket_create(
            customer=self.access.customer,
            by=self.access.user,
            new=workflows.NewTicket(
                subject=values["subject"],
                description=values["description"],
                priority=values["priority"],
                requester=requester_from(values.get("requester")),
                assignee=assignee_from(values.get("assignee"), self.access.user),
                sla_policy=values.get("sla_policy"),
                ci=ci_from(self.access, values.get("ci")),
            ),
            attachments=request.FILES.getlist("attachments"),
        )
        return Response(self.get_serializer(ticket).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[ETAG])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The ticket, with its version as ``ETag`` (send it back as ``If-Match`` on a PATCH)."""
        ticket = self.get_object()
        return tagged(Response(self.get_serializer(ticket).data), ticket)

    @extend_schema(
        request=TicketUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: TicketSerializer, 412: error(PRECONDITION_FAILED)},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()  # a ticket out of reach is 404 whatever the body says
        changes = self._changes(request)  # then the body: 400 before any precondition
        sent = request.headers.get("If-Match", "")
        with transaction.atomic():
            if sent:  # else, as before If-Match existed: the change applies to what is there now
                ticket = selectors.ticket_locked(self.access, ticket.pk)
                if not if_match(sent, ticket_etag(ticket)):
                    raise RuleViolation(
                        "precondition_failed",
                        "The ticket changed since you read it (If-Match no longer matches its ETag): "
                        "read it again and re-apply your change.",
                        status=412,
                    )
            ticket = workflows.ticket_update(
                customer=self.access.customer, ticket=ticket, by=self.access.user, changes=changes
            )
        ticket = selectors.ticket_for(self.access, ticket.pk)
        return tagged(Response(self.get_serializer(ticket).data), ticket)

    def _changes(self, request: Request) -> workflows.TicketChanges:
        data = TicketUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        changes: dict[str, Any] = {}
        for name in ("status", "priority", "sla_policy"):
            if name in values:
                changes[name] = values[name]
        if "assignee" in values:
            changes["assignee"] = assignee_from(values["assignee"], self.access.user)
        if "ci" in values:
            changes["ci"] = ci_from(self.access, values["ci"])
        if "requester" in values:
            changes["requester"] = requester_from(values["requester"])
            if changes["requester"] is None:
                raise ValidationError({"requester": ["A ticket always has a requester."]})
        return workflows.TicketChanges(**changes)


class CommentViewSet(mixins.ListModelMixin, TicketScopedViewSet):
    """The thread: agents see replies and private notes, customer users only public replies."""

    serializer_class = CommentSerializer
    parser_classes = PARSERS

    def get_queryset(self) -> QuerySet[Comment]:
        if getattr(self, "swagger_fake_view", False):
            return Comment.objects.none()
        return selectors.comments_visible(self.access, self.ticket())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = workflows.comment_add(
            customer=self.access.customer,
            ticket=ticket,
            by=self.access.user,
            body=data.validated_data["body"],
            public=data.validated_data.get("public", True),
            attachments=request.FILES.getlist("attachments"),
        )
        comment = selectors.comments_visible(self.access, ticket).get(pk=comment.pk)
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(mixins.ListModelMixin, TicketScopedViewSet):
    serializer_class = AttachmentSerializer
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def get_queryset(self) -> QuerySet[Attachment]:
        if getattr(self, "swagger_fake_view", False):
            return Attachment.objects.none()
        return selectors.attachments_visible(self.access, self.ticket())

    @extend_schema(request=AttachmentUploadSerializer, responses={201: AttachmentSerializer(many=True)})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Attach files (multipart field ``attachments``, repeated) to the ticket itself."""
        files = request.FILES.getlist("attachments") or request.FILES.getlist("file")
        if not files:
            raise ValidationError({"attachments": ["Send one or more files in the 'attachments' field."]})
        stored = workflows.ticket_attach(
            customer=self.access.customer, ticket=self.ticket(), by=self.access.user, files=files
        )
        return Response(self.get_serializer(stored, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})  # the file's own type
    def download(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        attachment = selectors.attachment_for(self.access, self.ticket(), self.kwargs["pk"])
        return attachment_response(attachment)


class TicketHistoryViewSet(mixins.ListModelMixin, TicketScopedViewSet):
    """The ticket's audit entries (the ticket and its comments), as the caller may read them
    (``selectors.changes_shown``, ``selectors.actor_shown``): customer users see the public part
    only (no private notes, no internal fields); the customer's side sees provider staff by name
    only; without the CMDB in one's access, nothing that names the ticket's CI."""

    serializer_class = HistoryEntrySerializer

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if getattr(self, "swagger_fake_view", False):
            nothing: QuerySet[AuditEntry] = AuditEntry.objects.none()
            return nothing
        entries: QuerySet[AuditEntry] = selectors.history_for(self.access, self.ticket())
        return entries

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "access"):
            context["changes_shown"] = partial(selectors.changes_shown, self.access)
        return context


class TicketSlaViewSet(TicketScopedViewSet):
    """``tickets/{id}/sla/``: why this policy, what it promised and how each clock ran. The
    hierarchy (every level and the policies it holds) is for provider staff; the customer's
    side reads only the ticket's own policy (``sla.presenters.sla_explain``)."""

    @extend_schema(responses={200: {"type": "object"}})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        reader = sla_reader(self.access.user)
        return Response(
            sla_explain(customer=self.access.customer, ticket=ticket, now=timezone.now(), reader=reader)
        )
