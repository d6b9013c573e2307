"""API representations of tickets, comments, attachments and history entries.

List serializers read only what the selectors already loaded (select_related / prefetch):
the customer's slug and ticket prefix come from the serializer context, not from a query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AuditEntry
from contracts.time import minutes_by_ticket
from core.changes import UNSET
from serviflow.api.fields import ReferenceField
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from sla.engine.keeping import sla_block
from sla.engine.resolution import reason_shown
from sla.models import PolicySource
from sla.serializers import PolicyField
from tenants.access import CustomerAccess
from tenants.models import Customer
from tickets.canned.models import SetStatus
from tickets.collaborators import collaborators_by_ticket, profiles_of
from tickets.family import link_seen_from
from tickets.index.services import display_number
from tickets.models import Attachment, Comment, LinkAs, Priority, Status, Ticket, TicketLink
from tickets.satisfaction.serializers import RatingSerializer
from tickets.satisfaction.services import reads_rating
from tickets.selectors import actor_shown, sees_all_tickets, tickets_visible
from tickets.sla.policy import sla_reader
from tickets.types.serializers import FIELD_VALUES_SCHEMA, FieldValuesField
from tickets.types.values import form_fields, visible_fields


def _customer(
    serializer: serializers.Field[Any, Any, Any, Any] | serializers.BaseSerializer[Any],
) -> Customer:
    """The customer whose data is serialized (the view puts it in the context)."""
    customer: Customer = serializer.context["customer"]
    return customer


class PolicyRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SlaBlockSerializer(serializers.Serializer[Any]):
    """The ``sla`` block of a ticket (api.md); breaches are computed live."""

    policy = PolicyRefSerializer()
    source = serializers.ChoiceField(choices=PolicySource.choices)  # type: ignore[assignment]
    reason = serializers.CharField()
    first_response_due = serializers.DateTimeField(allow_null=True)
    first_response_at = serializers.DateTimeField(allow_null=True)
    first_response_breached = serializers.BooleanField()
    resolution_due = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution_breached = serializers.BooleanField()
    paused = serializers.BooleanField()


# Another ticket of the customer named in a body: its id, or its reference (ACME-12).
TICKET_REFERENCE = {"pattern": r"^[A-Za-z][A-Za-z0-9]{1,9}-[0-9]{1,9}$", "maxLength": 20}


class LinkSerializer(serializers.Serializer[Any]):
    """A link as read on one of its tickets: what the other ticket is to this one."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LinkAs.choices)
    ticket = serializers.IntegerField()
    number = serializers.CharField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)


def link_data(customer: Customer, link: TicketLink, ticket: Ticket) -> dict[str, Any]:
    kind, other = link_seen_from(link, ticket)
    return {
        "id": link.pk,
        "kind": kind,
        "ticket": other.pk,
        "number": display_number(customer, other.number),
        "subject": other.subject,
        "status": other.status,
    }


class LinkCreateSerializer(InputSerializer):
    kind = serializers.ChoiceField(
        choices=LinkAs.choices,
        help_text="What `ticket` is to this ticket: related, its parent, or its child.",
    )
    ticket = ReferenceField(text=TICKET_REFERENCE, help_text="The other ticket: id or reference (ACME-12).")


class CollaboratorSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(allow_null=True, help_text="The customer user's id.")
    name = serializers.CharField()
    email = serializers.EmailField()


class CollaboratorCreateSerializer(InputSerializer):
    user = ReferenceField(text={"format": "email"}, help_text="A user of this customer: id or email.")


class MergeSerializer(InputSerializer):
    into = ReferenceField(
        text=TICKET_REFERENCE, help_text="The target ticket of the same customer: id or reference (ACME-12)."
    )


@dataclass(frozen=True)
class Related:
    links: list[TicketLink]
    collaborators: list[dict[str, Any]]
    # The rating when the caller knows it (a new ticket has none); UNSET: the ticket's own
    # (``selectors.tickets_visible`` joins it).
    rating: Any = UNSET
    time_minutes: int = 0


def related_of(tickets: list[Ticket], access: CustomerAccess | None) -> dict[int, Related]:
    """The links and collaborators of ``tickets`` (one page), in a few queries whatever its size.
    A link shows only where ``access`` may open both of its tickets (a customer user never
    learns of a colleague's ticket through a link)."""
    ids = [ticket.pk for ticket in tickets]
    links: dict[int, list[TicketLink]] = {pk: [] for pk in ids}
    found = list(
        TicketLink.objects.filter(Q(source__in=ids) | Q(target__in=ids)).select_related("source", "target")
    )
    if access is not None and found and not sees_all_tickets(access):
        ends = {pk for link in found for pk in (link.source_id, link.target_id)}
        visible = set(tickets_visible(access).filter(pk__in=ends).values_list("pk", flat=True))
        found = [link for link in found if {link.source_id, link.target_id} <= visible]
    for link in found:
        for end in (link.source_id, link.target_id):
            if end in links:
                links[end].append(link)
    people = collaborators_by_ticket(tickets)
    profiles = profiles_of([user for users in people.values() for user in users])
    minutes = minutes_by_ticket(access.customer, ids) if access is not None else {}
    return {
        pk: Related(
            time_minutes=minutes.get(pk, 0),
            links=links[pk],
            collaborators=[
                {"user": profiles.get(user.pk), "name": user.name, "email": user.email}
                for user in people.get(pk, [])
            ],
        )
        for pk in ids
    }


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    number = serializers.SerializerMethodField()
    customer = serializers.SerializerMethodField()
    requester = serializers.IntegerField(source="requester_id", read_only=True, allow_null=True)
    requester_name = serializers.CharField(source="requester_user.name", read_only=True)
    requester_email = serializers.CharField(source="requester_user.email", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", read_only=True, allow_null=True)
    assignee_name = serializers.SerializerMethodField()
    sla_policy = serializers.IntegerField(source="sla_policy_id", read_only=True, allow_null=True)
    ci = serializers.IntegerField(source="ci_id", read_only=True, allow_null=True)
    ci_name = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    merged_into = serializers.IntegerField(source="merged_into_id", read_only=True, allow_null=True)
    links = serializers.SerializerMethodField()
    collaborators = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()
    time_minutes = serializers.SerializerMethodField()
    request_type = serializers.IntegerField(source="request_type_id", read_only=True, allow_null=True)
    request_type_name = serializers.SerializerMethodField()
    fields = serializers.SerializerMethodField(  # type: ignore[assignment]
        method_name="fields_of",
        help_text="Custom field values by key (the customer's side: the fields the customer sees).",
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "customer",
            "subject",
            "description",
            "status",
            "priority",
            "requester",
            "requester_name",
            "requester_email",
            "assignee",
            "assignee_name",
            "sla_policy",
            "ci",
            "ci_name",
            "sla",
            "created_at",
            "updated_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "merged_into",
            "links",
            "collaborators",
            "rating",
            "time_minutes",
            "request_type",
            "request_type_name",
            "fields",
        ]
        read_only_fields = fields

    def get_request_type_name(self, ticket: Ticket) -> str | None:
        return ticket.request_type.name if ticket.request_type is not None else None

    @extend_schema_field(FIELD_VALUES_SCHEMA)
    def fields_of(self, ticket: Ticket) -> dict[str, Any]:
        """The values, as the form the ticket was filed with defines them."""
        if ticket.request_form is None:
            return {}
        access: CustomerAccess | None = self.context.get("access")
        shown = visible_fields(
            form_fields(ticket.request_form.definitions),
            customer_side=access is None or not access.works_tickets,
        )
        return {field.key: ticket.fields[field.key] for field in shown if field.key in ticket.fields}

    def _related(self, ticket: Ticket) -> Related:
        """What hangs off the ticket: read for the whole page by the list view
        (``related_of``, in the context), else for this one ticket."""
        known: dict[int, Related] | None = self.context.get("related")
        if known is not None and ticket.pk in known:
            return known[ticket.pk]
        return related_of([ticket], self.context.get("access"))[ticket.pk]

    @extend_schema_field(LinkSerializer(many=True))
    def get_links(self, ticket: Ticket) -> list[dict[str, Any]]:
        return [link_data(_customer(self), link, ticket) for link in self._related(ticket).links]

    @extend_schema_field(CollaboratorSerializer(many=True))
    def get_collaborators(self, ticket: Ticket) -> list[dict[str, Any]]:
        return self._related(ticket).collaborators

    @extend_schema_field(RatingSerializer(allow_null=True))
    def get_rating(self, ticket: Ticket) -> dict[str, Any] | None:
        """The requester's rating (``tickets.satisfaction``), joined by ``selectors.tickets_visible``."""
        known: dict[int, Related] | None = self.context.get("related")
        if known is not None and ticket.pk in known and known[ticket.pk].rating is not UNSET:
            rating = known[ticket.pk].rating
        else:
            rating = getattr(ticket, "rating", None)  # None: not rated (the reverse side raises)
        access: CustomerAccess | None = self.context.get("access")
        if access is not None and not reads_rating(access.user, ticket, agent=access.works_tickets):
            return None  # the requester's and the agents' to read
        return None if rating is None else dict(RatingSerializer(rating).data)

    def get_time_minutes(self, ticket: Ticket) -> int:
        """The time logged on the ticket, reversals deducted (``contracts.time``)."""
        return self._related(ticket).time_minutes

    def get_number(self, ticket: Ticket) -> str:
        return display_number(_customer(self), ticket.number)

    def get_customer(self, ticket: Ticket) -> str:
        return str(_customer(self).slug)

    def get_assignee_name(self, ticket: Ticket) -> str | None:
        return ticket.assignee.name if ticket.assignee else None

    def get_ci_name(self, ticket: Ticket) -> str | None:
        return ticket.ci.name if ticket.ci else None

    @extend_schema_field(SlaBlockSerializer)
    def get_sla(self, ticket: Ticket) -> dict[str, Any] | None:
        block = sla_block(ticket, self.context.get("now") or timezone.now())
        if block is None:
            return None
        access: CustomerAccess | None = self.context.get("access")
        if access is not None:  # the reason as this reader may read it
            name = (block["policy"] or {}).get("name", "")
            block["reason"] = reason_shown(block["source"], block["reason"], name, sla_reader(access.user))
        return dict(SlaBlockSerializer(block).data)

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        access: CustomerAccess | None = self.context.get("access")
        if access is not None and not access.sees_cmdb:  # no CI for whose access leaves it out
            data["ci"] = data["ci_name"] = None
        return data


# What a reference to a user, an agent or a CI may be besides its id.
BY_EMAIL = {"format": "email"}
ME = {"enum": ["me"]}
BY_NAME = {"maxLength": 100}


def ci_field() -> ReferenceField:
    """A ticket's CI as given on create and update: an id or a name, blank or null for none."""
    return ReferenceField(
        text=BY_NAME,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A CI of this customer: id or name.",
    )


class TicketCreateSerializer(InputSerializer):
    accepts = ("attachments",)  # multipart files, read by the view

    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=50_000, allow_blank=True, required=False, default="")
    priority = serializers.ChoiceField(
        choices=Priority.choices, required=False, help_text="Default: the request type's priority, else P3."
    )
    requester = ReferenceField(
        text=BY_EMAIL,
        required=False,
        allow_null=True,
        help_text="A user of this customer: id or email; defaults to you.",
    )
    assignee = ReferenceField(text=ME, required=False, allow_null=True, help_text="An agent's id, or 'me'.")
    sla_policy = PolicyField()
    ci = ci_field()
    request_type = ReferenceField(
        text=BY_NAME,
        required=False,
        allow_null=True,
        help_text="A request type of this customer: id or name.",
    )
    fields = FieldValuesField()  # type: ignore[assignment]


class TicketUpdateSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = ReferenceField(
        text=ME, required=False, allow_null=True, help_text="An agent's id, 'me' or null."
    )
    requester = ReferenceField(
        text=BY_EMAIL, required=False, help_text="A user of this customer: id or email."
    )
    sla_policy = PolicyField()
    ci = ci_field()
    request_type = ReferenceField(
        text=BY_NAME,
        required=False,
        allow_null=True,
        help_text="Agents: a request type of this customer (id or name), or null for none.",
    )
    fields = FieldValuesField(  # type: ignore[assignment]
        help_text="The values to change (the others are kept; null clears one)."
    )


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    url = serializers.SerializerMethodField()
    comment = serializers.IntegerField(source="comment_id", read_only=True, allow_null=True)

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "comment", "created_at", "url"]
        read_only_fields = fields

    def get_url(self, attachment: Attachment) -> str:
        return reverse(
            "api:ticket-attachment-download",
            kwargs={
                "slug": _customer(self).slug,
                "ticket_pk": attachment.ticket_id,
                "pk": attachment.pk,
            },
        )


class AttachmentUploadSerializer(serializers.Serializer[Any]):
    """The multipart body of ``attachments/`` (the view reads ``request.FILES`` itself)."""

    attachments = serializers.ListField(child=serializers.FileField(), min_length=1)


class AuthorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CommentSerializer(InputModelSerializer):
    accepts = ("attachments",)  # multipart files, read by the view

    author = AuthorSerializer(
        read_only=True,
        allow_null=True,
        help_text="Null on a private note that a background job wrote (``author_job``).",
    )
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "ticket",
            "body",
            "public",
            "set_status",
            "author",
            "author_job",
            "author_party",
            "created_at",
            "attachments",
        ]
        read_only_fields = [
            "id",
            "ticket",
            "author",
            "author_job",
            "author_party",
            "created_at",
            "attachments",
        ]
        extra_kwargs = {"public": {"default": True}, "body": {"max_length": 50_000}}

    ticket = serializers.IntegerField(
        source="ticket_id",
        read_only=True,
        help_text=("The ticket the message is on: a reply to a merged duplicate lands on its target."),
    )
    set_status = serializers.ChoiceField(
        choices=SetStatus.choices,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Agents: send and move the ticket in one action (pending or resolved), by the "
        "workflow's rules; a refused move refuses the message too.",
    )


class HistoryEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    at = serializers.DateTimeField(source="timestamp")
    actor = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    object_type = serializers.CharField(source="content_type.model")
    object_id = serializers.CharField(source="object_pk")
    changes = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "job", "channel", "action", "object_type", "object_id", "changes"]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "email": {"type": "string", "nullable": True},
            },
            "description": "null for a named job; provider staff are shown to the customer's side by name "
            "only (email null)",
        }
    )
    def get_actor(self, entry: AuditEntry) -> dict[str, Any] | None:
        return actor_shown(entry, self.context["request"].user)

    def get_action(self, entry: AuditEntry) -> str:
        return {0: "create", 1: "update", 2: "delete", 3: "access"}.get(entry.action, str(entry.action))

    @extend_schema_field({"type": "object"})
    def get_changes(self, entry: AuditEntry) -> dict[str, Any]:
        changes: dict[str, Any] = entry.changes_dict
        shown: Callable[[dict[str, Any]], dict[str, Any]] | None = self.context.get("changes_shown")
        return changes if shown is None else shown(changes)
