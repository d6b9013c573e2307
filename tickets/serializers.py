"""API representations of tickets, comments, attachments and history entries.

List serializers read only what the selectors already loaded (select_related / prefetch):
the customer's slug and ticket prefix come from the serializer context, not from a query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AuditEntry
from serviflow.api.fields import ReferenceField
from serviflow.api.serializers import InputModelSerializer, InputSerializer
from sla.engine.keeping import sla_block
from sla.engine.resolution import reason_shown
from sla.models import PolicySource
from sla.serializers import PolicyField
from tenants.access import CustomerAccess
from tenants.models import Customer
from tickets.index.services import display_number
from tickets.models import Attachment, Comment, Priority, Status, Ticket
from tickets.selectors import actor_shown
from tickets.sla.policy import sla_reader


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
        ]
        read_only_fields = fields

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
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.P3)
    requester = ReferenceField(
        text=BY_EMAIL,
        required=False,
        allow_null=True,
        help_text="A user of this customer: id or email; defaults to you.",
    )
    assignee = ReferenceField(text=ME, required=False, allow_null=True, help_text="An agent's id, or 'me'.")
    sla_policy = PolicyField()
    ci = ci_field()


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

    author = AuthorSerializer(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "body", "public", "author", "author_party", "created_at", "attachments"]
        read_only_fields = ["id", "author", "author_party", "created_at", "attachments"]
        extra_kwargs = {"public": {"default": True}, "body": {"max_length": 50_000}}


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
