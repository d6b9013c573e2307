"""Tickets, their thread and attachments, inside each customer's own schema.

Every change goes through ``tickets.workflows``; nothing here has behaviour in ``save()``.
References to public-schema rows (people, SLA policies) carry no database constraint: each such
constraint puts triggers on the public table once per customer, which makes provisioning and
every update of those rows slower as customers grow. People and policies are never deleted
(deactivated or kept), and the workflows check every reference they write.
Ids are per customer (each schema has its own sequences); the number people quote
(``ACME-1042``) is the customer's ticket prefix and ``number``.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet
from sla.models import PolicySource
from tenants.schema import tenant_connection


def person(*, null: bool = False, **kwargs: Any) -> models.ForeignKey[Any, Any]:
    """A reference to a person (a public-schema user) from a customer's table: no database
    constraint (see the module's docstring), never deleted."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=null,
        blank=null,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        **kwargs,
    )


class Status(models.TextChoices):
    OPEN = "open", "Open"
    PENDING = "pending", "Pending (waiting on the customer)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Priority(models.TextChoices):
    P1 = "P1", "P1 · critical"
    P2 = "P2", "P2 · high"
    P3 = "P3", "P3 · normal"
    P4 = "P4", "P4 · low"


# The only legal status changes (product.md): anything else is 400 invalid_transition.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
ACTIVE_STATUSES = (Status.OPEN, Status.PENDING)


class Party(models.TextChoices):
    """Which side of the conversation wrote something."""

    AGENT = "agent", "Agent"
    CUSTOMER = "customer", "Customer"
    SYSTEM = "system", "ServiFlow"  # a private note a named background job wrote


class Ticket(models.Model):
    number = models.PositiveIntegerField(unique=True)
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    # The requester is a person; when that person is one of the customer's users (the usual
    # case) ``requester`` is their profile, whose id the API shows. An agent may open a ticket
    # for themselves, then only ``requester_user`` is set.
    requester = models.ForeignKey(
        "people.CustomerUser", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    requester_user = person()
    assignee = person(null=True)
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        help_text="The ticket's own SLA override (agents and admins only).",
    )
    # The configuration item the ticket is about (same schema, so always the same customer).
    # PROTECT: a CI that tickets reference is retired, never deleted.
    ci = models.ForeignKey(
        "cmdb.ConfigurationItem", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    created_by = person(null=True)
    created_by_job = models.CharField(max_length=100, blank=True)
    # Who wrote the latest public message: a ticket may only wait on the customer (pending)
    # after an agent asked something.
    last_public_from = models.CharField(max_length=10, choices=Party.choices, default=Party.CUSTOMER)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # --- SLA (see sla.engine): which policy applies and why, a snapshot of what it promised,
    # and the clock timeline; the due times and breach facts are kept beside them for the
    # index, the queue and the audit trail (every change of them is an audit entry).
    sla_applied = models.ForeignKey(
        "sla.SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        help_text="The policy in force (resolved from the hierarchy).",
    )
    sla_source = models.CharField(max_length=12, choices=PolicySource.choices, blank=True)
    sla_reason = models.CharField(max_length=300, blank=True)
    sla_snapshot: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    sla_segments: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)
    # Bumped by each re-resolution that moves a due time: one more warning per generation.
    sla_generation = models.PositiveIntegerField(default=0)
    # What the sweep has recorded: {"<clock>:<kind>": generation}; see tickets.sla.sweep.
    sla_recorded: models.JSONField[dict[str, int]] = models.JSONField(default=dict, blank=True)
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)

    # The request type the ticket was filed as, the version of its form the values were checked
    # against (``tickets.types``: a form changed later never reinterprets an old ticket's values)
    # and the values, by field key: text, a number, a "YYYY-MM-DD" date, a list of choices, or
    # the id of a user or a CI of this customer.
    request_type = models.ForeignKey(
        "tickets.RequestType", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    request_form = models.ForeignKey(
        "tickets.RequestForm", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    fields: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)

    # A merged duplicate points at the ticket it was merged into (``tickets.family``): it is
    # closed, its thread shows in the target, and replies to it go to the target.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # A collaborator's right to one ticket (``tickets.collaborators``): a django-guardian
        # object permission, stored in the customer's own schema.
        permissions = [("collaborate_ticket", "Collaborate on the ticket (read it and reply)")]
        # Every order a list offers (``tickets.filtersets.TICKET_ORDERINGS``, either direction,
        # ties broken by id in the same direction: ``serviflow.filters.FilterSet``) has an index
        # whose scan, forwards or backwards, is that order: a page reads its rows and stops,
        # whatever the customer's size. The same orders again after the requester (a customer
        # user's own tickets, the portal) and the status (the default order of a status filter).
        indexes = [
            models.Index(fields=["created_at", "id"], name="tickets_created"),
            models.Index(fields=["updated_at", "id"], name="tickets_updated"),
            models.Index(fields=["priority", "id"], name="tickets_priority"),
            models.Index(fields=["status", "created_at", "id"], name="tickets_status_created_id"),
            models.Index(fields=["requester_user", "created_at", "id"], name="tickets_requester_created_id"),
            models.Index(fields=["requester_user", "updated_at", "id"], name="tickets_requester_updated"),
            models.Index(fields=["requester_user", "priority", "id"], name="tickets_requester_priority"),
            models.Index(fields=["assignee", "status"], name="tickets_assignee_status"),
            models.Index(fields=["ci", "-created_at"], name="tickets_ci_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="tickets_ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="tickets_ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.CLOSED) | models.Q(closed_at__isnull=False),
                name="tickets_ticket_closed_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(created_by__isnull=False) | ~models.Q(created_by_job=""),
                name="tickets_ticket_created_by_someone",
            ),
            models.CheckConstraint(  # values are kept with the form they were checked against
                condition=models.Q(request_type__isnull=True, request_form__isnull=True)
                | models.Q(request_type__isnull=False, request_form__isnull=False),
                name="tickets_ticket_type_has_form",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED


class Comment(models.Model):
    """A public reply (the customer sees it) or a private note (agents only). A private note may
    be a job's (``author_job``, party ``system``): the email channel naming the attachments it
    left out, say. Nobody else writes without a person."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="comments")
    body = models.TextField()
    public = models.BooleanField(default=True)
    author = person(null=True)
    author_job = models.CharField(max_length=100, blank=True)
    author_party = models.CharField(max_length=10, choices=Party.choices)
    created_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="tickets_comment_thread")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(public=True) | models.Q(author_party__in=[Party.AGENT, Party.SYSTEM]),
                name="tickets_comment_private_by_agents",
            ),
            models.CheckConstraint(  # a person's, or a named job's private note: never nobody's
                condition=(
                    models.Q(author__isnull=False) & ~models.Q(author_party=Party.SYSTEM)
                    | models.Q(author__isnull=True, author_party=Party.SYSTEM, public=False)
                    & ~models.Q(author_job="")
                ),
                name="tickets_comment_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"{'reply' if self.public else 'note'} {self.pk} on ticket {self.ticket_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """Files live under the customer's own folder, never beside another customer's:
    ``customers/<schema>/tickets/<ticket id>/<random>/<name>``."""
    schema = tenant_connection.schema_name
    if schema == "public":
        raise RuntimeError("attachments are stored inside a customer's schema only")
    name = PurePosixPath(filename).name or "file"
    return f"customers/{schema}/tickets/{instance.ticket_id}/{uuid.uuid4().hex}/{name}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments")
    # None: attached to the ticket's description. A private note's files are private too.
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=400)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = person()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_public(self) -> bool:
        return self.comment is None or self.comment.public


class EventKind(models.TextChoices):
    CREATED = "created", "Ticket created"
    UPDATED = "updated", "Ticket updated"
    ASSIGNED = "assigned", "Ticket assigned"
    REPLIED = "replied", "Public reply"
    MENTIONED = "mentioned", "Agents mentioned in a private note"


class TicketEvent(models.Model):
    """Outbox: written in the same transaction as the change it describes; the worker turns
    each into notifications (email and in-app) after commit, once per recipient."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    actor = person(null=True)
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changes: models.JSONField[dict[str, Any]] = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(notified_at__isnull=True), name="tickets_event_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of ticket {self.ticket_id}"


class TicketNumber(models.Model):
    """One row: the last ticket number handed out in this customer (see workflows)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="tickets_number_single_row")]

    def __str__(self) -> str:
        return f"last ticket number {self.last_number}"


class Merge(models.Model):
    """A duplicate merged into a target ticket of the same customer, and what undoing it needs:
    the status the duplicate had and the collaborator the merge added. Undone within a day
    (``tickets.family.UNDO_WITHIN``); at most one merge of a ticket stands at a time."""

    duplicate = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="merges")
    target = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    previous_status = models.CharField(max_length=10, choices=Status.choices)
    # The duplicate's requester, made a collaborator of the target by this merge (None: they
    # already could see it); undoing the merge takes that access back.
    collaborator_added = person(null=True)
    merged_by = person()
    merged_at = models.DateTimeField()
    undone_by = person(null=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["duplicate"],
                condition=models.Q(undone_at__isnull=True),
                name="tickets_merge_one_standing",
            ),
            models.CheckConstraint(
                condition=~models.Q(duplicate=models.F("target")), name="tickets_merge_not_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"ticket {self.duplicate_id} merged into {self.target_id}"


class LinkKind(models.TextChoices):
    """How two tickets are linked, as stored: ``parent`` means ``source`` is the parent of
    ``target``. The API also says ``child`` (the same row seen from the other end)."""

    RELATED = "related", "Related"
    PARENT = "parent", "Parent of"


class LinkAs(models.TextChoices):
    """What a linked ticket is to the ticket it is read on (the API's ``kind``)."""

    RELATED = "related", "Related"
    PARENT = "parent", "Parent"
    CHILD = "child", "Child"


class TicketLink(models.Model):
    source = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="links_in")
    kind = models.CharField(max_length=10, choices=LinkKind.choices)
    created_by = person()
    created_at = models.DateTimeField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="tickets_link_once"),
            # A child has one parent (the family is a tree; ``tickets.family`` refuses cycles).
            models.UniqueConstraint(
                fields=["target"], condition=models.Q(kind="parent"), name="tickets_link_one_parent"
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="tickets_link_not_to_itself"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["related", "parent"]), name="tickets_link_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["target"], name="tickets_link_target")]

    def __str__(self) -> str:
        return f"{self.kind} link {self.source_id} → {self.target_id}"


class Watcher(models.Model):
    """An agent who asked to hear of everything that happens on a ticket."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="watchers")
    user = person()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="tickets_watch_once")]

    def __str__(self) -> str:
        return f"user {self.user_id} watches ticket {self.ticket_id}"


class RequestType(models.Model):
    """A kind of request this customer files ("New starter", "Hardware fault"), with its form.

    The form's fields live in immutable versions (``RequestForm``): saving other fields makes a
    new version and points ``form`` at it; tickets keep the version they were filed with. A type
    may preset the priority and name an SLA policy (the hierarchy's ``request_type`` step).
    Types are never deleted once used: they are made inactive."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True, default="")
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    form = models.ForeignKey(
        "tickets.RequestForm", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="tickets_request_type_name_unique"),
            models.CheckConstraint(
                condition=models.Q(priority__in=["", *Priority.values]),
                name="tickets_request_type_priority_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RequestForm(models.Model):
    """One version of a request type's form: the field definitions as they were saved
    (``tickets.types.values.FieldDef``, as JSON). Never changed once written."""

    request_type = models.ForeignKey(RequestType, on_delete=models.PROTECT, related_name="forms")
    version = models.PositiveIntegerField()
    definitions: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["request_type", "version"]
        constraints = [
            models.UniqueConstraint(fields=["request_type", "version"], name="tickets_request_form_version")
        ]

    def __str__(self) -> str:
        return f"{self.request_type_id} v{self.version}"
