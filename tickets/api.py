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
from serviflow.pages import cleaned
from sla.presenters import sla_explain
from tickets import collaborators, family, selectors, workflows
from tickets.attachments import attachment_response
from tickets.filtersets import TicketFilterSet
from tickets.forms import AttachmentViewForm
from tickets.models import Attachment, Comment, Ticket
from tickets.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CollaboratorCreateSerializer,
    CollaboratorSerializer,
    CommentSerializer,
    HistoryEntrySerializer,
    LinkCreateSerializer,
    LinkSerializer,
    MergeSerializer,
    Related,
    TicketCreateSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    link_data,
    related_of,
)
from tickets.sla.policy import sla_reader
from tickets.types.services import type_from

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
        # a page's request types and forms in one query each, none when no ticket has a type
        return selectors.tickets_visible(self.access).prefetch_related("request_type", "request_form")

    def get_object(self) -> Ticket:
        return selectors.ticket_for(self.access, self.kwargs["pk"])

    def paginate_queryset(self, queryset: QuerySet[Any]) -> list[Any] | None:
        """The page, with its links and collaborators read for all of it at once."""
        page = super().paginate_queryset(queryset)
        if page is not None:
            self.related = related_of(list(page), self.access)
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        return super().get_serializer_context() | {"related": getattr(self, "related", None)}

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
                priority=values.get("priority", ""),
                requester=requester_from(values.get("requester")),
                assignee=assignee_from(values.get("assignee"), self.access.user),
                sla_policy=values.get("sla_policy"),
                ci=ci_from(self.access, values.get("ci")),
                request_type=type_from(values.get("request_type")),
                fields=values.get("fields"),
            ),
            attachments=request.FILES.getlist("attachments"),
        )
        self.related = {ticket.pk: Related(links=[], collaborators=[], rating=None)}  # a new one has none
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
        if "request_type" in values:
            changes["request_type"] = type_from(values["request_type"])
        if "fields" in values:
            changes["fields"] = values["fields"]
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
            then_status=data.validated_data.get("set_status") or "",
        )
        # on the ticket it landed on (a merged duplicate's target)
        comment = selectors.comments_visible(self.access, Ticket(pk=comment.ticket_id)).get(pk=comment.pk)
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

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "inline",
                bool,
                OpenApiParameter.QUERY,
                description="Show an image (PNG, JPEG, GIF, WebP) or a PDF in the browser instead of "
                "saving it (Content-Disposition: inline); any other file is always an attachment.",
            )
        ],
        responses={(200, "*/*"): OpenApiTypes.BINARY},  # the file's own type
    )
    def download(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        attachment = selectors.attachment_for(self.access, self.ticket(), self.kwargs["pk"])
        inline = cleaned(AttachmentViewForm(request.query_params))["inline"]
        return attachment_response(attachment, inline=inline)


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


class TicketMergeViewSet(TicketScopedViewSet):
    """``tickets/{id}/merge/``: merge this ticket (a duplicate) into another ticket of the same
    customer, or undo that within a day (``tickets.family``)."""

    serializer_class = TicketSerializer
    parser_classes = PARSERS

    @extend_schema(request=MergeSerializer, responses={200: TicketSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Merge this ticket into ``into`` (an id or a reference of the same customer; anything
        else is 404): this one closes with a pointer to it, its thread shows there, its
        requester becomes a collaborator. Answers with the target."""
        duplicate = self.ticket()
        data = MergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = family.ticket_from(self.access, data.validated_data["into"], field="into")
        target = family.ticket_merge(
            customer=self.access.customer, duplicate=duplicate, target=target, by=self.access.user
        )
        target = selectors.ticket_for(self.access, target.pk)
        return tagged(Response(self.get_serializer(target).data), target)

    @extend_schema(request=None, responses={200: TicketSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Undo this ticket's merge (within a day of it): it gets its status back. Answers with
        this ticket."""
        duplicate = family.merge_undo(
            customer=self.access.customer, duplicate=self.ticket(), by=self.access.user
        )
        duplicate = selectors.ticket_for(self.access, duplicate.pk)
        return tagged(Response(self.get_serializer(duplicate).data), duplicate)


class TicketLinkViewSet(mixins.ListModelMixin, TicketScopedViewSet):
    """``tickets/{id}/links/``: related tickets, its parent and its children. Everyone who sees
    the ticket reads them (only tickets they may open); agents link and unlink."""

    serializer_class = LinkSerializer
    parser_classes = PARSERS
    pagination_class = None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        links = related_of([ticket], self.access)[ticket.pk].links
        return Response(
            LinkSerializer([link_data(self.access.customer, link, ticket) for link in links], many=True).data
        )

    @extend_schema(request=LinkCreateSerializer, responses={201: LinkSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        data = LinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = family.ticket_from(self.access, data.validated_data["ticket"], field="ticket")
        link = family.link_add(
            customer=self.access.customer,
            ticket=ticket,
            by=self.access.user,
            kind=data.validated_data["kind"],
            other=other,
        )
        link = family.link_for(ticket, link.pk)
        return Response(
            LinkSerializer(link_data(self.access.customer, link, ticket)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        link = family.link_for(ticket, self.kwargs["pk"])
        family.link_remove(customer=self.access.customer, ticket=ticket, by=self.access.user, link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TicketCollaboratorViewSet(mixins.ListModelMixin, TicketScopedViewSet):
    """``tickets/{id}/collaborators/``: customer users copied on the ticket (they see it in
    their portal and may reply). Agents, the requester and the customer's admins add and remove
    them; a collaborator may remove themselves."""

    serializer_class = CollaboratorSerializer
    parser_classes = PARSERS
    pagination_class = None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        return Response(
            CollaboratorSerializer(related_of([ticket], self.access)[ticket.pk].collaborators, many=True).data
        )

    @extend_schema(request=CollaboratorCreateSerializer, responses={201: CollaboratorSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        data = CollaboratorCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = profile_from(data.validated_data["user"], field="user")
        if profile is None:
            raise ValidationError({"user": ["Name the colleague to add: a user id or email."]})
        person = collaborators.collaborator_add(
            customer=self.access.customer, access=self.access, ticket=ticket, profile=profile
        )
        entry = {"user": profile.pk, "name": person.name, "email": person.email}
        return Response(CollaboratorSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.ticket()
        person = collaborators.collaborator_for(ticket, self.kwargs["pk"])
        collaborators.collaborator_remove(
            customer=self.access.customer, access=self.access, ticket=ticket, user=person
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
