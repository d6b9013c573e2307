"""Every change to a ticket, for every channel (API, console, portal, tasks).

Each workflow runs inside the customer's schema, in one transaction that also writes the
unified index row and the outbox event; notifications go out after commit from the worker.
Rules about who may do what live here too, so the console and the API cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import CustomerRole, User
from audit.context import current_actor
from cmdb.models import ConfigurationItem
from core.changes import UNSET, Changes
from core.errors import RuleViolation
from people.models import CustomerUser
from sla.engine.keeping import SLA_FIELDS, sla_begin, sla_compute, sla_move, sla_reresolve, timers_write
from sla.models import SlaPolicy
from tenants.access import CustomerAccess, require_scope, require_sets_policies, works_tickets_of
from tenants.models import Customer
from tenants.schema import require_schema
from tickets.attachments import attachments_check, attachments_store, stored_files
from tickets.collaborators import is_collaborator, mentioned
from tickets.events import party_of, record_event
from tickets.family import refuse_with_open_children
from tickets.hooks import ticket_fields_changed
from tickets.index.search import search_add_comment, search_write
from tickets.index.services import index_write
from tickets.models import (
    TRANSITIONS,
    Attachment,
    Comment,
    EventKind,
    Party,
    Priority,
    RequestForm,
    RequestType,
    Status,
    Ticket,
)
from tickets.sla.policy import ticket_resolution
from tickets.types.values import clean_values, form_fields

MAX_BODY = 50_000
MAX_SUBJECT = 200


def _actor_label(by: User | None) -> str:
    """Who to name on the SLA timeline: the person, or the job acting."""
    return by.name if by is not None else _job_name()


def _job_name() -> str:
    actor = current_actor()
    if actor is None or not actor.job:
        raise RuntimeError("a ticket change needs a signed-in person or a named job")
    return actor.job


def _clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError({field: ["This field may not be blank."]})
    if len(text) > max_length:
        raise ValidationError({field: [f"At most {max_length} characters (got {len(text)})."]})
    return text


def _check_priority(priority: str) -> None:
    if priority not in Priority.values:
        raise ValidationError({"priority": [f"'{priority}' is not a priority; use one of P1, P2, P3, P4."]})


def _check_assignee(customer: Customer, assignee: User | None) -> None:
    if assignee is not None and not works_tickets_of(assignee, customer):
        raise ValidationError({"assignee": ["That person cannot work this customer's tickets."]})


def _check_ci(ci: ConfigurationItem | None) -> None:
    """New links go to CIs in use; a retired CI keeps the links it has."""
    if ci is not None and ci.is_retired:
        raise ValidationError({"ci": [f"{ci.name} is retired; link a CI that is in use."]})


def _next_number() -> int:
    """The customer's next ticket number: one row per schema, incremented under its row lock,
    so concurrent creations get distinct, gap-free numbers."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticketnumber (id, last_number) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET last_number = tickets_ticketnumber.last_number + 1 "
            "RETURNING last_number"
        )
        row = cursor.fetchone()
    return int(row[0])


def _lock(ticket: Ticket) -> Ticket:
    """The ticket re-read under its row lock: concurrent changes to one ticket queue up."""
    return Ticket.objects.select_for_update().select_related("requester_user").get(pk=ticket.pk)


def _may_write_on(ticket: Ticket, by: User) -> bool:
    """Whether ``by`` may write on ``ticket`` when a merge sends them there: agents and the
    customer's admins, its requester, a collaborator."""
    if party_of(by) == Party.AGENT or by.customer_role == CustomerRole.ADMIN:
        return True
    return ticket.requester_user_id == by.pk or is_collaborator(ticket, by)


def _lock_open(ticket: Ticket, by: User | None = None) -> Ticket:
    """The ticket that takes a new message or file, locked: a merged duplicate's target (what
    is written to a duplicate goes to the ticket it was merged into, ``tickets.family``)."""
    locked = _lock(ticket)
    if locked.merged_into_id is not None:
        locked = _lock(Ticket(pk=locked.merged_into_id))
        if by is not None and not _may_write_on(locked, by):
            raise PermissionDenied(
                "This request was merged into another ticket that you cannot open; ask its requester "
                "to copy you on it."
            )
    if locked.is_closed:
        raise RuleViolation("ticket_closed", "This ticket is closed; open a new ticket instead.", status=409)
    return locked


@dataclass(frozen=True)
class NewTicket:
    subject: str
    description: str = ""
    priority: str = ""  # "": the request type's priority, else P3
    requester: CustomerUser | None = None  # None: the caller (when they are a customer user)
    assignee: User | None = None
    sla_policy: SlaPolicy | None = None
    ci: ConfigurationItem | None = None
    # The request type (read with its current ``form``) and the values of its form's fields
    # (``tickets.types.values``). ``fields_required=False``: a channel that cannot ask for a
    # missing value (email) files the ticket without it.
    request_type: RequestType | None = None
    fields: dict[str, Any] | None = None
    fields_required: bool = True


def _new_form_values(
    customer: Customer, by: User | None, new: NewTicket
) -> tuple[RequestType | None, RequestForm | None, dict[str, Any]]:
    """The request type, its form version and the checked values of a new ticket."""
    request_type = new.request_type
    if request_type is None:
        if new.fields:
            raise ValidationError({"fields": ["Custom fields belong to a request type: give request_type."]})
        return None, None, {}
    if not request_type.active:
        raise ValidationError({"request_type": [f"'{request_type.name}' is no longer offered."]})
    form = request_type.form
    if form is None:
        raise RuntimeError(f"request type {request_type.pk} has no form (tickets.types.services makes one)")
    customer_side = by is not None and party_of(by) == Party.CUSTOMER
    values = clean_values(
        form_fields(form.definitions),
        new.fields,
        customer_side=customer_side,
        required=new.fields_required,
        access=CustomerAccess(customer=customer, user=by) if by is not None else None,
    )
    return request_type, form, values


def ticket_create(
    *,
    customer: Customer,
    by: User | None,
    new: NewTicket,
    attachments: Sequence[UploadedFile] = (),
) -> Ticket:
    """Open a ticket. ``by`` None means a named background job (see ``audit.context``)."""
    require_schema(customer, "tickets")
    subject = _clean_text(new.subject, field="subject", max_length=MAX_SUBJECT)
    description = _clean_text(new.description, field="description", max_length=MAX_BODY, required=False)
    request_type, request_form, values = _new_form_values(customer, by, new)
    priority = new.priority or (request_type.priority if request_type is not None else "") or Priority.P3
    _check_priority(priority)
    requester, requester_user = _resolve_requester(customer, by, new.requester)
    if by is not None and party_of(by) == Party.CUSTOMER and new.assignee:
        raise PermissionDenied("Customer users cannot set the assignee or the SLA policy.")
    if new.sla_policy is not None:
        require_sets_policies(by)
    if new.ci is not None and by is not None:
        require_scope(by, "cmdb", write=False)
    _check_assignee(customer, new.assignee)
    _check_ci(new.ci)
    attachments_check(customer=customer, files=attachments)
    now = timezone.now()
    ticket = Ticket(
        subject=subject,
        description=description,
        priority=priority,
        requester=requester,
        requester_user=requester_user,
        assignee=new.assignee,
        sla_policy=new.sla_policy,
        ci=new.ci,
        request_type=request_type,
        request_form=request_form,
        fields=values,
        created_by=by,
        created_by_job="" if by is not None else _job_name(),
        last_public_from=Party.CUSTOMER if requester is not None else party_of(requester_user),
        created_at=now,
        updated_at=now,
    )
    # Everything that does not need the number first: the number's row stays locked from
    # ``_next_number`` until commit, and concurrent creations of the customer wait for it.
    clocks = sla_begin(
        ticket=ticket, resolution=ticket_resolution(customer, ticket), by=_actor_label(by), now=now
    )
    with stored_files() as written, transaction.atomic():
        ticket.number = _next_number()
        ticket.save(force_insert=True)
        timers_write(customer=customer, ticket=ticket, views=clocks, created=True)
        if attachments:
            if by is None:
                raise RuntimeError("background jobs do not attach files")
            attachments_store(ticket=ticket, comment=None, files=attachments, by=by, written=written)
        index_write(customer=customer, tickets=[ticket], clocks={ticket.pk: clocks})
        search_write(customer=customer, tickets=[ticket])
        record_event(ticket, EventKind.CREATED, by)
        if new.assignee is not None and new.assignee != by:
            record_event(ticket, EventKind.ASSIGNED, by)
    return ticket


def _resolve_requester(
    customer: Customer, by: User | None, requester: CustomerUser | None
) -> tuple[CustomerUser | None, User]:
    if requester is not None:
        if not requester.user.is_active:
            raise ValidationError({"requester": ["That user is deactivated."]})
        for_someone_else = by is not None and requester.user_id != by.pk
        if for_someone_else and party_of(by) == Party.CUSTOMER and by.customer_role != CustomerRole.ADMIN:  # type: ignore[arg-type, union-attr]
            raise PermissionDenied("You can only open tickets for yourself.")
        return requester, requester.user
    if by is None:
        raise ValidationError({"requester": ["A background job must name the requester."]})
    if by.is_customer_user:
        profile = CustomerUser.objects.filter(user=by).first() if by.customer_id == customer.pk else None
        if profile is None:
            raise PermissionDenied("Only this customer's users can open tickets here.")
        profile.user = by  # the caller, already read: no join
        return profile, by
    return None, by  # an agent opening a ticket for themselves


@dataclass(frozen=True)
class TicketChanges(Changes):
    """What a PATCH changes (``core.changes``): fields left UNSET are not touched."""

    status: str = UNSET
    priority: str = UNSET
    assignee: User | None = UNSET
    requester: CustomerUser = UNSET
    sla_policy: SlaPolicy | None = UNSET
    ci: ConfigurationItem | None = UNSET
    request_type: RequestType | None = UNSET
    fields: dict[str, Any] = UNSET


# --- one verb per change -------------------------------------------------------------------------
# Each change is checked before the transaction (``_CHECKS``: the value, and who may make it) and
# applied to the locked ticket inside it; ``_change`` runs one or several of them in one
# transaction with one save, one audit entry, the SLA, the timers, the index and the outbox.


def ticket_transition(*, customer: Customer, ticket: Ticket, by: User, status: str) -> Ticket:
    """open <-> pending, open/pending -> resolved, resolved -> open (reopen) or closed."""
    return _change(customer, ticket, by, {"status": status})


def ticket_assign(*, customer: Customer, ticket: Ticket, by: User, assignee: User | None) -> Ticket:
    return _change(customer, ticket, by, {"assignee": assignee})


def ticket_reprioritise(*, customer: Customer, ticket: Ticket, by: User, priority: str) -> Ticket:
    return _change(customer, ticket, by, {"priority": priority})


def ticket_set_requester(*, customer: Customer, ticket: Ticket, by: User, requester: CustomerUser) -> Ticket:
    return _change(customer, ticket, by, {"requester": requester})


def ticket_override_sla(
    *, customer: Customer, ticket: Ticket, by: User, sla_policy: SlaPolicy | None
) -> Ticket:
    return _change(customer, ticket, by, {"sla_policy": sla_policy})


def ticket_link_ci(*, customer: Customer, ticket: Ticket, by: User, ci: ConfigurationItem | None) -> Ticket:
    return _change(customer, ticket, by, {"ci": ci})


def ticket_set_fields(
    *,
    customer: Customer,
    ticket: Ticket,
    by: User,
    values: dict[str, Any],
    request_type: RequestType | None = UNSET,
) -> Ticket:
    """Change custom field values (the keys given; an empty value clears one), and with
    ``request_type`` the type itself: the ticket then takes that type's current form, keeping
    the values of the keys the new form also has. Values are checked against the form the
    ticket was filed with (``tickets.types.values``); audited like every ticket change."""
    wanted: dict[str, Any] = {"fields": values}
    if request_type is not UNSET:
        wanted["request_type"] = request_type
    return _change(customer, ticket, by, wanted)


def ticket_update(*, customer: Customer, ticket: Ticket, by: User, changes: TicketChanges) -> Ticket:
    """PATCH: the verbs above for every field given, in one transaction."""
    return _change(customer, ticket, by, changes.given())


def _status_ok(customer: Customer, ticket: Ticket, by: User, status: str) -> None:
    if status not in Status.values:
        raise ValidationError(
            {"status": [f"'{status}' is not a status; use open, pending, resolved or closed."]}
        )
    reopen_or_close = ticket.status == Status.RESOLVED and status in (Status.OPEN, Status.CLOSED)
    if party_of(by) == Party.CUSTOMER and status != ticket.status:
        if not reopen_or_close:
            raise PermissionDenied("You can reopen or close a resolved ticket; agents change other statuses.")
        _require_owner_side(ticket, by, "reopen or close it")


def _priority_ok(customer: Customer, ticket: Ticket, by: User, priority: str) -> None:
    _check_priority(priority)
    if party_of(by) == Party.CUSTOMER and priority != ticket.priority:
        _require_owner_side(ticket, by, "change its priority")


def _require_owner_side(ticket: Ticket, by: User, what: str) -> None:
    """On the customer's side, the requester and the customer's admins decide about a ticket;
    a colleague copied on it reads and replies."""
    if by.pk != ticket.requester_user_id and by.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied(f"Only the ticket's requester or your company's admins can {what}.")


def _assignee_ok(customer: Customer, ticket: Ticket, by: User, assignee: User | None) -> None:
    if party_of(by) == Party.CUSTOMER:
        raise PermissionDenied("Customer users cannot set the assignee or the SLA policy.")
    _check_assignee(customer, assignee)


def _requester_ok(customer: Customer, ticket: Ticket, by: User, requester: CustomerUser) -> None:
    if party_of(by) == Party.CUSTOMER and by.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only the customer's admins can change a ticket's requester.")
    if not requester.user.is_active:
        raise ValidationError({"requester": ["That user is deactivated."]})


def _sla_policy_ok(customer: Customer, ticket: Ticket, by: User, sla_policy: SlaPolicy | None) -> None:
    require_sets_policies(by)


def _ci_ok(customer: Customer, ticket: Ticket, by: User, ci: ConfigurationItem | None) -> None:
    require_scope(by, "cmdb", write=False)  # linking or unlinking a CI is seeing the CMDB
    if ci != ticket.ci:
        _check_ci(ci)


def _request_type_ok(customer: Customer, ticket: Ticket, by: User, request_type: RequestType | None) -> None:
    if party_of(by) == Party.CUSTOMER:
        raise PermissionDenied("Only agents change a ticket's request type.")
    if request_type is not None and request_type.pk != ticket.request_type_id and not request_type.active:
        raise ValidationError({"request_type": [f"'{request_type.name}' is no longer offered."]})


def _fields_ok(customer: Customer, ticket: Ticket, by: User, values: dict[str, Any]) -> None:
    if party_of(by) == Party.CUSTOMER:
        _require_owner_side(ticket, by, "change its fields")


def _apply_form(customer: Customer, ticket: Ticket, by: User, wanted: dict[str, Any]) -> None:
    """The locked ticket's request type, form version and values after the change."""
    previous = ticket.fields
    if "request_type" in wanted and wanted["request_type"] != ticket.request_type:
        request_type: RequestType | None = wanted["request_type"]
        ticket.request_type = request_type
        ticket.request_form = request_type.form if request_type is not None else None
    if ticket.request_form_id is None:
        if wanted.get("fields"):
            raise ValidationError({"fields": ["Custom fields belong to a request type: give request_type."]})
        ticket.fields = {}
        return
    form = ticket.request_form
    assert form is not None  # noqa: S101 (narrowing for the type checker)
    ticket.fields = clean_values(
        form_fields(form.definitions),
        wanted.get("fields") or {},
        customer_side=party_of(by) == Party.CUSTOMER,
        partial=True,
        previous=previous,
        access=CustomerAccess(customer=customer, user=by),
    )


_CHECKS: dict[str, Callable[[Customer, Ticket, User, Any], None]] = {
    "status": _status_ok,
    "priority": _priority_ok,
    "assignee": _assignee_ok,
    "requester": _requester_ok,
    "sla_policy": _sla_policy_ok,
    "ci": _ci_ok,
    "request_type": _request_type_ok,
    "fields": _fields_ok,
}


def _change(customer: Customer, ticket: Ticket, by: User, wanted: dict[str, Any]) -> Ticket:
    require_schema(customer, "tickets")
    for name, value in wanted.items():
        _CHECKS[name](customer, ticket, by, value)
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket)
        before = _tracked(ticket)
        if "status" in wanted and wanted["status"] != ticket.status:
            _apply_status(customer, ticket, wanted["status"], now, by=by)
        if ticket.is_closed and before["status"] == Status.CLOSED and wanted.keys() - {"status"}:
            raise RuleViolation("ticket_closed", "A closed ticket cannot be changed.", status=409)
        for name in ("priority", "assignee", "requester", "sla_policy", "ci"):
            if name in wanted:
                setattr(ticket, name, wanted[name])
        if "fields" in wanted or "request_type" in wanted:
            _apply_form(customer, ticket, by, wanted)
        after = _tracked(ticket)
        if name_changes := {
            name: [before[name], after[name]] for name in after if before[name] != after[name]
        }:
            if "requester" in name_changes and ticket.requester is not None:
                ticket.requester_user = ticket.requester.user
            if name_changes.keys() & _RERESOLVED_ON:
                sla_reresolve(ticket=ticket, resolution=ticket_resolution(customer, ticket), now=now)
            clocks = sla_compute(ticket, now)
            ticket.updated_at = now
            ticket.save(update_fields=[*_SAVED_ON_UPDATE, *SLA_FIELDS])
            timers_write(customer=customer, ticket=ticket, views=clocks)
            index_write(customer=customer, tickets=[ticket], clocks={ticket.pk: clocks})
            if name_changes.keys() & {"requester", "fields"}:  # who finds it, and by which words
                search_write(customer=customer, tickets=[ticket])
            if name_changes.keys() & {"fields", "request_type"}:  # no event: a hook only
                ticket_fields_changed(ticket)
            public = {k: v for k, v in name_changes.items() if k in ("status", "priority")}
            if public:
                record_event(ticket, EventKind.UPDATED, by, changes=public)
            if "assignee" in name_changes and ticket.assignee_id not in (None, by.pk):
                record_event(ticket, EventKind.ASSIGNED, by)
    return ticket


# What the SLA timeline says about a status change (pending: see _pending_reason).
_STATUS_REASONS: dict[str, str] = {"resolved": "resolved", "closed": "closed", "open": "set to open"}


def _apply_status(customer: Customer, ticket: Ticket, status: str, now: datetime, *, by: User) -> None:
    if status not in TRANSITIONS[ticket.status]:
        allowed = ", ".join(sorted(TRANSITIONS[ticket.status])) or "nothing (closed is final)"
        raise RuleViolation(
            "invalid_transition",
            f"A {ticket.status} ticket cannot become {status}; it can become: {allowed}.",
            field="status",
        )
    if status == Status.PENDING and ticket.last_public_from != Party.AGENT:
        raise RuleViolation(
            "pending_needs_question",
            "A ticket can wait on the customer only after an agent's public reply asks them something.",
            field="status",
        )
    if status in (Status.RESOLVED, Status.CLOSED):
        refuse_with_open_children(customer, ticket, status)
    reason = _STATUS_REASONS.get(status, "")
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.OPEN and ticket.status == Status.RESOLVED:
        ticket.resolved_at = None
        reason = "reopened"
    elif status == Status.CLOSED:
        ticket.closed_at = now
    elif status == Status.PENDING:
        reason = _pending_reason(ticket)
    sla_move(ticket, status, by=by.name, reason=reason, now=now)
    ticket.status = status


def _pending_reason(ticket: Ticket) -> str:
    """Why the clocks pause: the agent's question the customer has to answer."""
    question = (
        Comment.objects.filter(ticket=ticket, public=True, author_party=Party.AGENT)
        .order_by("-created_at", "-id")
        .values_list("body", flat=True)
        .first()
    ) or ""
    text = " ".join(question.split())
    return f"waiting on the customer to answer: {text[:160]}{'…' if len(text) > 160 else ''}"


# A change of any of these runs the SLA hierarchy again (sla.md).
_RERESOLVED_ON = {"priority", "requester", "sla_policy", "ci", "request_type"}
_TRACKED = {
    "status": "status",
    "priority": "priority",
    "assignee": "assignee_id",
    "requester": "requester_id",
    "sla_policy": "sla_policy_id",
    "ci": "ci_id",
    "request_type": "request_type_id",
    "fields": "fields",
}
_SAVED_ON_UPDATE = (
    "status",
    "priority",
    "assignee",
    "requester",
    "requester_user",
    "sla_policy",
    "ci",
    "request_type",
    "request_form",
    "fields",
    "resolved_at",
    "closed_at",
    "updated_at",
)


def _tracked(ticket: Ticket) -> dict[str, Any]:
    """The values a change is reported by (API name -> stored value)."""
    return {name: getattr(ticket, attribute) for name, attribute in _TRACKED.items()}


def ticket_attach(
    *, customer: Customer, ticket: Ticket, by: User, files: Sequence[UploadedFile]
) -> list[Attachment]:
    """Add files to the ticket itself (not to a message): anyone who can see the ticket."""
    require_schema(customer, "tickets")
    attachments_check(customer=customer, files=files)
    with stored_files() as written, transaction.atomic():
        ticket = _lock_open(ticket, by)
        stored = attachments_store(ticket=ticket, comment=None, files=files, by=by, written=written)
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["updated_at"])
        index_write(customer=customer, tickets=[ticket])
    return stored


def comment_add(
    *,
    customer: Customer,
    ticket: Ticket,
    by: User,
    body: str,
    public: bool = True,
    attachments: Sequence[UploadedFile] = (),
    then_status: str = "",
) -> Comment:
    """A public reply or a private note. A customer's reply on a pending ticket reopens it; an
    agent's public reply on an unassigned ticket assigns it to them.
    ``then_status`` (an agent's "Send and set pending", "Send and resolve") moves the ticket in
    the same transaction, by ``ticket_transition``'s rules, after the comment: a public reply is
    the question pending needs. A refused move refuses the whole, the comment and its files too."""
    require_schema(customer, "tickets")
    party = party_of(by)
    if party == Party.CUSTOMER and not public:
        raise PermissionDenied("Customer users can only post public replies.")
    if then_status and party != Party.AGENT:
        raise PermissionDenied("Only agents send and change the status at once.")
    text = _clean_text(body, field="body", max_length=MAX_BODY)
    attachments_check(customer=customer, files=attachments)
    now = timezone.now()
    with stored_files() as written, transaction.atomic():
        ticket = _lock_open(ticket, by)
        comment = Comment.objects.create(
            ticket=ticket, body=text, public=public, author=by, author_party=party, created_at=now
        )
        if attachments:
            attachments_store(ticket=ticket, comment=comment, files=attachments, by=by, written=written)
        fields = ["updated_at"]
        if public:
            ticket.last_public_from = party
            fields.append("last_public_from")
            if party == Party.AGENT and ticket.first_responded_at is None:
                ticket.first_responded_at = now
                fields.append("first_responded_at")
            if party == Party.CUSTOMER and ticket.status == Status.PENDING:
                sla_move(ticket, Status.OPEN, by=by.name, reason="the customer replied", now=now)
                ticket.status = Status.OPEN
                fields.append("status")
        ticket.updated_at = now
        clocks = None
        if public:  # a reply may stop first response or resume the clocks; a note changes neither
            clocks = sla_compute(ticket, now)
            ticket.save(update_fields=[*fields, *SLA_FIELDS])
            timers_write(customer=customer, ticket=ticket, views=clocks)
        else:
            ticket.save(update_fields=fields)
        index_write(customer=customer, tickets=[ticket], clocks={ticket.pk: clocks} if clocks else None)
        search_add_comment(customer=customer, ticket=ticket, body=text, public=public)
        if public:
            record_event(ticket, EventKind.REPLIED, by, comment=comment)
        elif party == Party.AGENT and (named := [u.pk for u in mentioned(customer, text) if u.pk != by.pk]):
            record_event(ticket, EventKind.MENTIONED, by, comment=comment, changes={"mentioned": named})
        if public and party == Party.AGENT and ticket.assignee_id is None and works_tickets_of(by, customer):
            # the first public reply by an agent on an unassigned ticket takes it (audited as a change)
            ticket_assign(customer=customer, ticket=ticket, by=by, assignee=by)
        if then_status:
            ticket_transition(customer=customer, ticket=ticket, by=by, status=then_status)
    return comment


def job_note(*, customer: Customer, ticket: Ticket, job: str, body: str) -> Comment:
    """A private note that the named background ``job`` writes on the ticket (the email channel
    naming the attachments it left out, say): agents read it in the thread and search; it
    notifies nobody and moves no clock. Audited under whoever is acting."""
    require_schema(customer, "tickets")
    if not job:
        raise RuntimeError("a job's note names the job")
    text = _clean_text(body, field="body", max_length=MAX_BODY)
    with transaction.atomic():
        comment = Comment.objects.create(
            ticket=ticket,
            body=text,
            public=False,
            author=None,
            author_job=job,
            author_party=Party.SYSTEM,
            created_at=timezone.now(),
        )
        search_add_comment(customer=customer, ticket=ticket, body=text, public=False)
    return comment
