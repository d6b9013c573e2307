"""A stored mail, parsed and acted on in a worker: a new ticket, a comment on one, triage, or
recorded and left alone (auto-replies, bounces, lists, loops). Every write goes through the
tickets' workflows as the sender, on the ``email`` channel; a new user is made by the job.

Runs once per message: the row is locked and only a ``received`` one is processed, so a
redelivered task, two workers or a re-run after a crash never act twice. A crash before commit
leaves the message ``received``, and the sweep (``mail.tasks.sweep``) runs it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.context import Actor, acting
from audit.models import Channel
from core.errors import RuleViolation
from mail.models import InboundMessage, MailSettings, State
from mail.parsing import Parsed, bounced_addresses, parse
from mail.routing import COMMENT, IGNORED, TICKET, TRIAGE, Decision, route
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets import workflows
from tickets.attachments import attachments_check
from tickets.models import Comment, RequestType, Ticket
from tickets.types.values import form_fields, values_from_text, values_that_pass

_SAVED = [
    "state",
    "attempts",
    "from_address",
    "subject",
    "too_large",
    "flood",
    "reason",
    "trace",
    "customer",
    "ticket_id",
    "comment_id",
    "handled_by",
    "handled_at",
]
JOB = "mail.process"  # the task that runs ``process`` (mail.tasks), named on the notes it writes
_STATES = {TICKET: State.TICKET, COMMENT: State.COMMENT, TRIAGE: State.TRIAGE, IGNORED: State.IGNORED}


@dataclass(frozen=True)
class Outcome:
    state: str
    ticket_id: int | None = None


def process(message_pk: int) -> Outcome | None:
    """Parse, route and act on one stored message (None: not there, or already processed)."""
    with transaction.atomic():
        message = (
            InboundMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_pk, state=State.RECEIVED)
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        if message.size > int(settings.EMAIL_MAX_BYTES):
            message.too_large = True
            limit = int(settings.EMAIL_MAX_BYTES)
            step = {"rule": "size", "checked": f"{message.size} bytes, limit {limit}", "result": "too large"}
            return _finish(
                message, Decision(outcome=TRIAGE, reason="too large: stored, not parsed", trace=[step])
            )
        parsed = parse(bytes(message.raw))
        message.from_address = parsed.from_address[:320]
        message.subject = parsed.subject[:998]
        if parsed.unreadable:
            step = {"rule": "parse", "checked": "the MIME structure", "result": parsed.unreadable}
            return _finish(
                message, Decision(outcome=TRIAGE, reason=f"unreadable: {parsed.unreadable}", trace=[step])
            )
        decision = _with_list_rule(route(message, parsed), parsed)
        if decision.bounce:
            _mark_bounces(bytes(message.raw))
        if decision.outcome in (TICKET, COMMENT) and decision.customer is not None:
            try:
                with transaction.atomic():
                    ticket_id, comment_id = _act(decision.customer, decision, parsed)
            except (ValidationError, PermissionDenied, RuleViolation) as exc:
                refusal = _words(exc)
                decision.trace.append({"rule": "act", "checked": decision.reason, "result": refusal})
                decision = Decision(outcome=TRIAGE, reason=f"refused: {refusal}"[:300], trace=decision.trace)
            else:
                message.ticket_id, message.comment_id = ticket_id, comment_id
        return _finish(message, decision)


def _mark_bounces(raw: bytes) -> None:
    """A bounce marks the addresses it reports as bouncing (shown on the person's page)."""
    now = timezone.now()
    for user in User.objects.filter(email__in=bounced_addresses(raw), email_bouncing_since__isnull=True):
        user.email_bouncing_since = now
        user.save(update_fields=["email_bouncing_since"])  # one by one: audited


def _finish(message: InboundMessage, decision: Decision) -> Outcome:
    message.state = _STATES[decision.outcome]
    message.reason = decision.reason[:300]
    message.trace = decision.trace
    message.flood = decision.flood
    message.customer = decision.customer if decision.outcome in (TICKET, COMMENT) else None
    message.save(update_fields=_SAVED)  # never the raw bytes again
    return Outcome(state=message.state, ticket_id=message.ticket_id)


def _with_list_rule(decision: Decision, parsed: Parsed) -> Decision:
    """List mail (``List-Id``) makes nothing unless its customer takes list mail."""
    if (
        "list-id" not in parsed.headers
        or decision.customer is None
        or decision.outcome not in (TICKET, COMMENT)
    ):
        return decision
    takes = (
        MailSettings.objects.filter(customer=decision.customer)
        .values_list("accept_list_mail", flat=True)
        .first()
    )
    if takes:
        return decision
    decision.trace.append(
        {"rule": "list mail", "checked": "List-Id", "result": "the customer takes no list mail"}
    )
    return Decision(outcome=IGNORED, reason="list mail (List-Id)", trace=decision.trace)


def _act(customer: Customer, decision: Decision, parsed: Parsed) -> tuple[int, int | None]:
    with customer_schema(customer):
        sender = decision.sender
        if decision.new_user:
            profile = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(
                    email=parsed.from_address, name=parsed.from_name or parsed.from_address.split("@")[0]
                ),
                password=None,
            )
            sender = profile.user
        if sender is None:
            raise RuntimeError("a routed mail has a sender (or makes one)")
        files, left_out = _files(customer, parsed)
        with acting(Actor(user=sender, channel=Channel.EMAIL)):
            ticket, comment = _write(customer, decision, parsed, sender, files)
        if left_out:  # email.md: named in a private note (the job's, under whoever is acting)
            workflows.job_note(
                customer=customer,
                ticket=ticket,
                job=JOB,
                body="Attachments left out of this mail: " + " ".join(left_out),
            )
        return ticket.pk, comment.pk if comment is not None else None


def _write(
    customer: Customer, decision: Decision, parsed: Parsed, sender: User, files: list[SimpleUploadedFile]
) -> tuple[Ticket, Comment | None]:
    """The ticket or the comment, written as the sender; returns the ticket it is on (a reply to
    a merged duplicate lands on the target) and the comment."""
    if decision.outcome == TICKET:
        request_type = default_type_of(customer)
        values, notes = _form_values(request_type, parsed.text, lenient=decision.from_triage)
        ticket = workflows.ticket_create(
            customer=customer,
            by=sender,
            new=workflows.NewTicket(
                subject=(parsed.subject or "(no subject)")[: workflows.MAX_SUBJECT],
                description=parsed.text[: workflows.MAX_BODY],
                request_type=request_type,
                fields=values,
                fields_required=False,
            ),
            attachments=files,
        )
        missing = missing_required(request_type, ticket.fields)
        if missing:
            notes.append(f"Required fields this mail did not give: {', '.join(missing)}.")
        if notes:
            workflows.job_note(customer=customer, ticket=ticket, job=JOB, body=" ".join(notes))
        return ticket, None
    if decision.ticket is None:
        raise RuntimeError("a comment is routed to its ticket")
    comment = workflows.comment_add(
        customer=customer,
        ticket=decision.ticket,
        by=sender,
        body=(parsed.reply_text() or "(empty message)")[: workflows.MAX_BODY],
        attachments=files,
    )
    return comment.ticket, comment


def default_type_of(customer: Customer) -> RequestType | None:
    """The request type the customer's mail settings give tickets opened by email (an active
    one of its schema), or None."""
    settings_of = MailSettings.objects.filter(customer=customer)
    chosen = settings_of.values_list("default_request_type", flat=True).first()
    if chosen is None:
        return None
    return RequestType.objects.select_related("form").filter(pk=chosen, active=True).first()


def _form_values(
    request_type: RequestType | None, text: str, *, lenient: bool
) -> tuple[dict[str, Any], list[str]]:
    """The values a mail gives its type's form (``Label: value`` lines). Checked strictly by the
    ticket's workflow, so a mail with a bad value goes to triage with a reason naming the field;
    sent on from triage (``lenient``), the bad values are left out and named in a note."""
    if request_type is None or request_type.form is None:
        return {}, []
    definitions = form_fields(request_type.form.definitions)
    raw = values_from_text(definitions, text)
    if not lenient:
        return raw, []
    kept, refused = values_that_pass(definitions, raw)
    return kept, [f"Values left out of this mail: {' '.join(refused)}"] if refused else []


def missing_required(request_type: RequestType | None, values: dict[str, Any]) -> list[str]:
    if request_type is None or request_type.form is None:
        return []
    definitions = form_fields(request_type.form.definitions)
    return [field.label for field in definitions if field.required and field.key not in values]


def _files(customer: Customer, parsed: Parsed) -> tuple[list[SimpleUploadedFile], list[str]]:
    """The attachments the web would take; the others are left out, each named with why."""
    taken: list[SimpleUploadedFile] = []
    left_out: list[str] = []
    for attached in parsed.attachments:
        upload = SimpleUploadedFile(
            attached.filename[:200], attached.content, content_type=attached.content_type
        )
        try:
            attachments_check(customer=customer, files=[*taken, upload])
        except ValidationError as exc:
            left_out.append(_words(exc))
            continue
        taken.append(upload)
    return taken, left_out


def _words(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)[:300]
    return str(getattr(exc, "detail", exc))[:300]


def assign_from_triage(*, message: InboundMessage, customer: Customer, by: User) -> Outcome:
    """An agent sends a triaged mail to a customer: the ticket is made as if the mail had
    arrived there (its sender becomes a user of the customer when they are not one yet)."""
    parsed = parse(bytes(message.raw))
    sender = User.objects.filter(email__iexact=parsed.from_address, is_active=True).first()
    if sender is not None and not (sender.is_customer_user and sender.customer_id == customer.pk):
        raise ValidationError(
            {"customer": [f"The sender {parsed.from_address} is not a user of {customer.name}."]}
        )
    decision = Decision(
        outcome=TICKET,
        from_triage=True,
        reason=f"assigned from triage to {customer.slug} by {by.name}",
        customer=customer,
        sender=sender,
        new_user=sender is None,
        trace=[
            *message.trace,
            {"rule": "triage", "checked": by.email, "result": f"assigned to {customer.slug}"},
        ],
    )
    ticket_id, _ = _act(customer, decision, parsed)
    message.ticket_id = ticket_id
    message.handled_by, message.handled_at = by, timezone.now()
    return _finish(message, decision)
