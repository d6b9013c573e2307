"""The unified console index (public schema): a projection of every customer's tickets.

Written by ``tickets.index.services.index_write`` in the same transaction as the ticket change,
so the cross-customer queue is one indexed query over this table and can never disagree with
the tickets. ``manage.py rebuild_ticket_index`` re-derives it from the schemas and reports drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from audit.querysets import AuditedQuerySet

# Tickets without a resolution due time sort after every ticket that has one.
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)


class TicketIndexEntry(models.Model):
    customer = models.ForeignKey("tenants.Customer", on_delete=models.PROTECT, related_name="+")
    ticket_id = models.BigIntegerField(help_text="The ticket's id inside its customer's schema.")
    number = models.CharField(max_length=24, help_text="As people quote it: ACME-1042.")
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=10)
    priority = models.CharField(max_length=2)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requester_name = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Room for the SLA engine (issue #5): due times and the non-null sort key of the queue.
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    due_sort = models.DateTimeField(default=NO_DUE)
    # Where the ticket's SLA policy came from (the queue marks a requester's override).
    sla_source = models.CharField(max_length=12, blank=True, default="")
    # The clock the queue shows (the running clock due first; first response runs until it is
    # met; "" once both stopped), its due and warning instants (None while paused short of them), whether the
    # clocks are paused, and the first breach recorded on either clock. The row's state is read
    # from these and the current instant (``tickets.index.states``), so it turns amber and red
    # by the clock alone, without a write.
    sla_clock = models.CharField(max_length=14, blank=True, default="")
    sla_due = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True)
    sla_paused = models.BooleanField(default=False)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    # The non-null sort key of "next due" (ordering ``next_due``): sla_due, or NO_DUE.
    next_due_sort = models.DateTimeField(default=NO_DUE)
    # The ticket's request type (by name: ids are per customer) and its custom field values,
    # as the ticket holds them (``tickets.types``), for the queue's ``request_type`` and
    # ``field=key:value`` filters (a containment test the GIN index answers).
    request_type_name = models.CharField(max_length=100, blank=True, default="")
    fields = models.JSONField(default=dict, blank=True)
    # Who wrote the latest public message (the queue's "customer replied" marker).
    last_public_from = models.CharField(max_length=10, blank=True, default="")
    # The customer wrote last after an agent had answered publicly: the ball is in our court.
    customer_replied = models.BooleanField(default=False)
    # For the monthly figures (``reports.figures``, spec/reports.md), derived from the SLA timeline:
    # when each clock ended (its breach, else its stop) and whether it breached, and when the ticket
    # was last resolved; each also as its local month (YYYYMM, the customer's zone), which is what
    # the figures count by; the other months the ticket was resolved in (reopened, resolved again);
    # until when it is active (the start of its final stop, NO_DUE while open or pending) and its
    # earlier, closed stops.
    created_month = models.PositiveIntegerField(default=0)
    first_response_ended_at = models.DateTimeField(null=True, blank=True)
    first_response_ended_month = models.PositiveIntegerField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_month = models.PositiveIntegerField(null=True, blank=True)
    resolution_ended_at = models.DateTimeField(null=True, blank=True)
    resolution_ended_month = models.PositiveIntegerField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_month = models.PositiveIntegerField(null=True, blank=True)
    last_resolved_at = models.DateTimeField(null=True, blank=True)
    last_resolved_month = models.PositiveIntegerField(null=True, blank=True)
    earlier_resolved_months = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    active_until = models.DateTimeField(default=NO_DUE)
    active_until_month = models.PositiveIntegerField(default=999912)
    stopped_spans = ArrayField(DateTimeRangeField(), default=list, blank=True)

    class Meta:
        db_table = "ticket_index"
        constraints = [
            models.UniqueConstraint(fields=["customer", "ticket_id"], name="ticket_index_one_row_per_ticket"),
        ]
        indexes = [
            # The queue's default page: open and pending tickets by due time, newest first on ties.
            models.Index(
                models.F("due_sort").asc(),
                models.F("id").desc(),
                condition=models.Q(status__in=["open", "pending"]),
                name="ticket_index_active_due",
            ),
            # One index per offered ordering, unfiltered by status (either direction reads it).
            models.Index(models.F("due_sort").asc(), models.F("id").desc(), name="ticket_index_due"),
            models.Index(
                models.F("next_due_sort").asc(), models.F("id").desc(), name="ticket_index_next_due"
            ),
            models.Index(
                models.F("next_due_sort").asc(),
                models.F("id").desc(),
                condition=models.Q(status__in=["open", "pending"]),
                name="ticket_index_active_next_due",
            ),
            models.Index(models.F("priority").asc(), models.F("id").desc(), name="ticket_index_priority"),
            models.Index(fields=["-created_at", "-id"], name="ticket_index_created"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_index_updated"),
            models.Index(fields=["customer", "status"], name="ticket_index_customer_status"),
            models.Index(fields=["assignee", "status"], name="ticket_index_assignee_status"),
            # The monthly figures: each counts one month of one of these, for every customer at
            # once, from the index alone (grouped by customer in index order).
            models.Index(fields=["created_month", "customer"], name="ticket_index_month_created"),
            models.Index(
                fields=["first_response_ended_month", "customer"],
                include=["first_response_breached_at"],
                name="ticket_index_fr_ended",
            ),
            models.Index(
                fields=["resolution_ended_month", "customer"],
                include=["resolution_breached_at"],
                name="ticket_index_res_ended",
            ),
            models.Index(
                fields=["first_response_breached_month", "customer"], name="ticket_index_fr_breached"
            ),
            models.Index(fields=["resolution_breached_month", "customer"], name="ticket_index_res_breached"),
            models.Index(fields=["last_resolved_month", "customer"], name="ticket_index_resolved"),
            GinIndex(fields=["earlier_resolved_months"], name="ticket_index_earlier_resolved"),
            GinIndex(fields=["fields"], opclasses=["jsonb_path_ops"], name="ticket_index_fields"),
            # Active at a month's end: most tickets never reopened (no earlier stops) and are
            # counted by month from the index alone; the few that did are checked against their stops.
            models.Index(
                fields=["active_until_month", "created_month", "customer"],
                condition=models.Q(stopped_spans=[]),
                name="ticket_index_active_until",
            ),
            models.Index(
                fields=["active_until"],
                condition=~models.Q(stopped_spans=[]),
                name="ticket_index_active_reopened",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class SavedView(models.Model):
    """A named filter and sort of the unified queue, personal or shared with every provider agent.
    Built-in views (``builtin``, no owner) are the defaults every agent has; nobody edits or
    deletes them. ``filters`` holds query parameters of ``tickets.filtersets.QueueFilterSet``,
    checked by it before they are saved (``tickets.filtersets.view_filters``)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=60)
    shared = models.BooleanField(default=False)
    builtin = models.BooleanField(default=False)
    filters: models.JSONField[dict[str, str]] = models.JSONField(default=dict, blank=True)
    ordering = models.CharField(max_length=20, default="next_due")
    position = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        db_table = "ticket_saved_view"
        ordering = ["position", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(builtin=True, owner__isnull=True, shared=True)
                | models.Q(builtin=False, owner__isnull=False),
                name="ticket_saved_view_owned_unless_builtin",
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="ticket_saved_view_name_per_owner"),
        ]
        indexes = [models.Index(fields=["owner"], name="ticket_saved_view_owner")]

    def __str__(self) -> str:
        return self.name


# The text search configuration of the search index (migration ticket_index 0004): the ``simple``
# parser and dictionary (no language's stemming: customers write in several languages) behind
# ``unaccent``, so "réseau" and "reseau" are one word. Schema-qualified, so that it never depends
# on the search_path.
SEARCH_CONFIG = "public.sf_search"


class Words(models.Func):
    """``setweight(to_tsvector(<config>, column), weight)``: a column's words for the generated
    vectors (constants in the template: a generated column's expression takes no parameters)."""

    output_field = SearchVectorField()

    def __init__(self, column: str, *, weight: str) -> None:
        super().__init__(models.F(column))
        self.template = f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, %(expressions)s), '{weight}')"


class Joined(models.Func):
    """``a || b`` for tsvectors."""

    arg_joiner = " || "
    template = "(%(expressions)s)"
    output_field = SearchVectorField()


class TicketSearchEntry(models.Model):
    """A ticket's words for full-text search (public schema), one row per ticket beside its
    ``TicketIndexEntry``, written in the ticket's transaction (``tickets.index.search``). Public
    words (subject, description, public replies) and private notes are kept apart so that a
    customer user can never match the latter; PostgreSQL generates the vectors from the texts,
    which also give the snippets."""

    # No index of its own: the ones below lead with the customer (each index costs every reply).
    customer = models.ForeignKey(
        "tenants.Customer", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    ticket_id = models.BigIntegerField(help_text="The ticket's id inside its customer's schema.")
    number = models.PositiveIntegerField(help_text="The ticket's number (1042 of ACME-1042).")
    # Whose ticket it is: a customer user who is not the customer's admin finds only their own.
    requester_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # read with the customer's rows, never on its own
        related_name="+",
    )
    subject = models.CharField(max_length=200)
    public_text = models.TextField(
        blank=True, help_text="The description and the public replies, oldest first."
    )
    private_text = models.TextField(blank=True, help_text="The private notes, oldest first.")
    public_vector = models.GeneratedField(
        expression=Joined(Words("subject", weight="A"), Words("public_text", weight="B")),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    private_vector = models.GeneratedField(
        expression=Words("private_text", weight="C"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # The values of the ticket's custom fields that the customer sees (``tickets.types``), by
    # key; anyone who may open the ticket finds it by them.
    fields_text = models.TextField(blank=True, default="")
    fields_vector = models.GeneratedField(
        expression=Words("fields_text", weight="B"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        db_table = "ticket_search"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "ticket_id"], name="ticket_search_one_row_per_ticket"
            ),
        ]
        indexes = [
            GinIndex(fields=["public_vector"], name="ticket_search_public"),
            GinIndex(fields=["private_vector"], name="ticket_search_private"),
            GinIndex(fields=["fields_vector"], name="ticket_search_fields"),
            # A reference (ACME-1042, or 1042 inside a customer) finds its row at once.
            models.Index(fields=["customer", "number"], name="ticket_search_number"),
            # The candidates of a common word are the newest matches: walked newest first.
            models.Index(fields=["customer", "-id"], name="ticket_search_customer_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.ticket_id}"
