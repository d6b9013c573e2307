"""Running the rules: which rules a ticket's change sets off, and their actions applied.

When: each outbox event (``tickets.hooks``) notes, inside the change's transaction, that the
ticket's rules for that event are to run; they run right after the change commits, each rule in
a transaction of its own with the ticket locked. So a rule's failure or refusal never undoes or
fails the change that set it off, a rule sees the committed ticket (and checks its conditions
again on it, locked), and everything one ticket's rules do is serialised by that ticket's lock,
which is what makes the loop guard's count exact under concurrency. One change notes one run
per event kind, however many outbox rows it writes.

Who: every action goes through the ticket workflows (``tickets.workflows``) as the rule's owner,
under the job name ``automation:<rule name>``: each audit entry names both.

Order: provider rules first, then the customer's, each by position (``rules_for``).

Loop guard: changes a rule makes do not run that rule again; and at most ``LIMIT`` rule actions
per ticket per ``WINDOW`` (counted in ``RuleAction``): when the limit is hit the ticket gets a
private note and the rule's owner an in-app notice, once per window, and no more actions run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.context import Actor, acting
from audit.models import Channel
from automations.language import ROUND_ROBIN, Facts, matches
from automations.models import Event, Outcome, RotationPointer, Rule, RuleAction, job_name
from core.errors import RuleViolation
from notifications.models import NotificationKind
from notifications.rules import audience
from notifications.services import Delivery, Message, notify_many
from tenants.access import member_agents
from tenants.models import Customer
from tenants.schema import customer_schema, tenant_connection
from tickets import workflows
from tickets.index.services import display_number
from tickets.models import EventKind, Party, Status, Ticket, TicketEvent
from tickets.notices import mail_subject, screened, ticket_roles_read, ticket_url

logger = logging.getLogger(__name__)

LIMIT = 10  # rule actions per ticket
WINDOW = timedelta(minutes=1)
_CACHE_SECONDS = 3600
_ROW = "_row"  # the id of the action's RuleAction row, handed to the action with it


@dataclass(frozen=True)
class LoadedRule:
    """A rule as the engine keeps it (cached per customer)."""

    id: int
    name: str
    customer_id: int | None
    event: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    wait: dict[str, Any] | None
    owner_id: int

    @classmethod
    def of(cls, rule: Rule) -> LoadedRule:
        return cls(
            rule.pk,
            rule.name,
            rule.customer_id,
            rule.event,
            rule.conditions,
            rule.actions,
            rule.wait,
            rule.owner_id,
        )

    @property
    def job(self) -> str:
        return job_name(self.name)


# --- the rules of a customer, cached -------------------------------------------------------------


def _key(customer_id: int | None) -> str:
    """Per customer (None: the provider's rules) and per database, so that two databases on one
    cache (the tests', a benchmark's, development's) never read each other's rules."""
    return f"automations:rules:{connection.settings_dict['NAME']}:{customer_id or 'provider'}"


def _loaded(customer_id: int | None) -> list[LoadedRule]:
    rules = Rule.objects.filter(enabled=True).order_by("position", "id")
    rules = (
        rules.filter(customer__isnull=True) if customer_id is None else rules.filter(customer_id=customer_id)
    )
    return [LoadedRule.of(rule) for rule in rules]


def rules_for(customer: Customer) -> list[LoadedRule]:
    """The enabled rules that run on ``customer``'s tickets, in order: the provider's, then its
    own. One cache round trip when cached (the platform cache: no schema in its keys, the
    customer's id is); a rule's write forgets its entry (``rules_forget``)."""
    cache = caches["platform"]
    provider_key, key = _key(None), _key(customer.pk)
    cached = cache.get_many([provider_key, key])
    provider, own = cached.get(provider_key), cached.get(key)
    if provider is None:
        provider = _loaded(None)
        cache.set(provider_key, provider, _CACHE_SECONDS)
    if own is None:
        own = _loaded(customer.pk)
        cache.set(key, own, _CACHE_SECONDS)
    return [*provider, *own]


def rules_forget(customer_id: int | None) -> None:
    """After a rule of ``customer_id`` (None: provider-wide) changes: now, and again after commit,
    so that a reader who filled the cache in between does not keep the old rules."""
    key = _key(customer_id)
    cache = caches["platform"]
    cache.delete(key)
    transaction.on_commit(partial(cache.delete, key), robust=True)


# --- which events run which rules ----------------------------------------------------------------

# The rule event an outbox event is (a change of status or priority and an assignment are
# updates; a customer's public reply is a reply; an agent's reply and a mention are neither).
_RULE_EVENT = {
    EventKind.CREATED: Event.CREATED,
    EventKind.UPDATED: Event.UPDATED,
    EventKind.ASSIGNED: Event.UPDATED,
}

# The rule whose actions are being applied: the changes it makes do not run it again.
_acting_rule: ContextVar[int | None] = ContextVar("automations_acting_rule", default=None)


def rule_event_of(event: TicketEvent) -> str | None:
    if event.kind == EventKind.REPLIED:
        comment = event.comment
        return (
            Event.CUSTOMER_REPLY if comment is not None and comment.author_party == Party.CUSTOMER else None
        )
    return _RULE_EVENT.get(event.kind)  # type: ignore[call-overload, no-any-return]


@dataclass
class _Run:
    """The rules of one event kind of one ticket, to run after commit."""

    customer: Customer
    ticket: Ticket
    event: str
    origin: int | None
    ran: bool = False

    def __call__(self) -> None:
        self.ran = True
        key = (self.customer.pk, self.ticket.pk, self.event, self.origin)
        if _pending().get(key) is self:
            del _pending()[key]
        # Usually still inside the customer's schema (the change's own block): switching again
        # would make the next statement set the search path once more.
        here = tenant_connection.schema_name == self.customer.schema_name
        try:
            with nullcontext() if here else customer_schema(self.customer):
                run_event(self.customer, self.ticket, self.event, origin=self.origin)
        except Exception:  # after commit: the change is saved whatever a rule does
            logger.exception("automation rules of ticket %s failed", self.ticket.pk)


def on_ticket_event(event: TicketEvent) -> None:
    """The ``tickets.hooks`` hook: note the run (once per ticket, event kind and transaction);
    no query."""
    rule_event = rule_event_of(event)
    if rule_event is None:
        return
    _note_run(event.ticket, rule_event)


def on_fields_change(ticket: Ticket) -> None:
    """The ``tickets.hooks`` hook of a change of custom fields or request type: the ticket's
    "updated" rules run, as on an outbox event of an update (none is written for it)."""
    _note_run(ticket, Event.UPDATED)


# The runs noted and not yet run, per thread (a connection is a thread's own): one change that
# writes many outbox rows of one kind, or a bulk change of many tickets, finds its run in O(1).
_noted = threading.local()
_NOTED_MAX = 10_000  # runs of rolled-back transactions are left here; past this, forget them all


def _pending() -> dict[tuple[int, int, str, int | None], _Run]:
    found: dict[tuple[int, int, str, int | None], _Run] | None = getattr(_noted, "runs", None)
    if found is None or len(found) > _NOTED_MAX:
        found = _noted.runs = {}
    return found


@dataclass(frozen=True)
class _Trigger:
    """One note's commit callback: runs the shared ``_Run`` (which runs once). Each note adds
    its own, so that a run noted in a savepoint later rolled back still runs for the notes
    that stay."""

    run: _Run

    def __call__(self) -> None:
        if not self.run.ran:
            self.run()


def _note_run(ticket: Ticket, rule_event: str) -> None:
    customer = tenant_connection.tenant
    origin = _acting_rule.get()
    key = (customer.pk, ticket.pk, rule_event, origin)
    pending = _pending()
    run = pending.get(key)
    if run is None or run.ran:
        run = pending[key] = _Run(customer, ticket, rule_event, origin)
    else:  # the latest state in memory (a run left by a rolled-back transaction is reused)
        run.customer, run.ticket = customer, ticket
    transaction.on_commit(_Trigger(run))


def run_event(customer: Customer, ticket: Ticket, event: str, *, origin: int | None = None) -> int:
    """Run the rules of ``event`` whose conditions ``ticket`` (as last seen) meets, in order;
    returns how many acted. Without a candidate this costs the cache's round trip only."""
    facts = Facts.of(ticket)
    candidates = [
        rule
        for rule in rules_for(customer)
        if rule.event == event and rule.id != origin and matches(rule.conditions, facts)
    ]
    return sum(1 for rule in candidates if rule_apply(customer, ticket.pk, rule))


# --- applying a rule -----------------------------------------------------------------------------


@contextmanager
def _as_rule(rule: LoadedRule, owner: User) -> Iterator[None]:
    token = _acting_rule.set(rule.id)
    try:
        with acting(Actor(user=owner, channel=Channel.SYSTEM, job=rule.job)):
            yield
    finally:
        _acting_rule.reset(token)


def rule_apply(customer: Customer, ticket_id: int, rule: LoadedRule, *, check: bool = True) -> bool:
    """Apply ``rule``'s actions to the ticket, locked, if it still meets the conditions (``check``);
    in one transaction, each action in a savepoint of its own (a refused action is recorded and
    the next one runs). Returns whether any action ran. Inside the customer's schema."""
    owner = User.objects.filter(pk=rule.owner_id, is_active=True).first()
    if owner is None:
        logger.warning("automation rule %s skipped: its owner is gone", rule.id)
        return False
    with _as_rule(rule, owner), transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if ticket is None or (check and not matches(rule.conditions, Facts.of(ticket))):
            return False
        if not Rule.objects.filter(pk=rule.id, enabled=True).exists():
            # a rule deleted or disabled since the list was read (another process's cache, or
            # a rolled-back transaction's): nothing to do, and the list is read again next time
            rules_forget(rule.customer_id)
            return False
        ran = False
        for action in rule.actions:
            if not _allowed(customer, ticket, rule, owner):
                break
            row = RuleAction.objects.create(  # first: its id keys what the action sends
                rule_id=rule.id,
                customer=customer,
                ticket_id=ticket.pk,
                action=action["action"],
                outcome=Outcome.DONE,
                detail="",
                at=timezone.now(),
            )
            outcome, detail = _attempt(customer, ticket, rule, owner, {**action, _ROW: row.pk})
            row.outcome, row.detail = outcome, detail[:300]
            row.save(update_fields=["outcome", "detail"])
            ran = True
        return ran


def _allowed(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User) -> bool:
    """The loop guard's count, under the ticket's lock: at most LIMIT actions per WINDOW. The
    first refusal of a window leaves a note on the ticket and tells the rule's owner."""
    since = timezone.now() - WINDOW
    recent = RuleAction.objects.filter(customer=customer, ticket_id=ticket.pk, at__gt=since)
    if recent.exclude(outcome=Outcome.LIMITED).count() < LIMIT:
        return True
    if not recent.filter(outcome=Outcome.LIMITED).exists():
        RuleAction.objects.create(
            rule_id=rule.id,
            customer=customer,
            ticket_id=ticket.pk,
            action="limit",
            outcome=Outcome.LIMITED,
            detail=f"{LIMIT} rule actions in a minute",
            at=timezone.now(),
        )
        text = (
            f"Automation paused on this ticket: rules took {LIMIT} actions within a minute "
            f"(the last one set off was '{rule.name}'). Check the rules for a loop."
        )
        workflows.job_note(customer=customer, ticket=ticket, job=rule.job, body=text)
        number = display_number(customer, ticket.number)
        message = Message(
            kind=NotificationKind.AUTOMATION,
            customer=customer,
            title=f"{number}: automation stopped by the loop guard",
            body=text,
            url=ticket_url(customer, ticket, owner),
            ticket_id=ticket.pk,
            ticket_number=number,
            email=False,
        )
        key = f"{customer.schema_name}:automation-limit:{ticket.pk}:{timezone.now():%Y%m%d%H%M}"
        transaction.on_commit(partial(_deliver, [(owner, message, key)]), robust=True)
    return False


def _deliver(deliveries: list[Delivery]) -> None:
    """After commit: an occasional agent without a day pass is told without ticket text."""
    notify_many(screened(deliveries))


def _attempt(
    customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]
) -> tuple[str, str]:
    try:
        with transaction.atomic():
            detail = _ACTIONS[action["action"]](customer, ticket, rule, owner, action)
    except (ValidationError, PermissionDenied, RuleViolation, User.DoesNotExist) as refusal:
        message = getattr(refusal, "detail", None) or "; ".join(_messages(refusal))
        return Outcome.REFUSED, str(message)
    return Outcome.DONE, detail


def _messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [f"{field}: {' '.join(m)}" for field, m in error.message_dict.items()]
        return list(error.messages)
    return [str(error) or type(error).__name__]


def _set(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]) -> str:
    field, value = action["field"], action["value"]
    if field == "status":
        workflows.ticket_transition(customer=customer, ticket=ticket, by=owner, status=value)
    elif field == "priority":
        workflows.ticket_reprioritise(customer=customer, ticket=ticket, by=owner, priority=value)
    else:
        key = field.removeprefix("fields.")
        workflows.ticket_set_fields(customer=customer, ticket=ticket, by=owner, values={key: value})
    return f"{field} set to {value!r}"


def _assign(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]) -> str:
    if action["to"] == ROUND_ROBIN:
        agent = round_robin_next(customer, rule)
        if agent is None:
            raise RuleViolation("no_member_agents", "The customer has no member agents to take turns.")
    else:
        agent = User.objects.get(pk=action["to"])
    workflows.ticket_assign(customer=customer, ticket=ticket, by=owner, assignee=agent)
    return f"assigned to {agent.email}"


def round_robin_agents(customer: Customer) -> list[User]:
    """Who round robin takes turns among: the customer's active member agents
    (``tenants.access.member_agents``), in a fixed order."""
    return list(member_agents(customer).order_by("pk"))


def round_robin_next(customer: Customer, rule: LoadedRule) -> User | None:
    """The member agent after the one who got this rule's last ticket, the rule's pointer moved
    under its row lock: concurrent tickets take turns, none is skipped or doubled."""
    agents = round_robin_agents(customer)
    if not agents:
        return None
    RotationPointer.objects.bulk_create(
        [RotationPointer(rule_id=rule.id, customer=customer)], ignore_conflicts=True
    )
    pointer = RotationPointer.objects.select_for_update().get(rule_id=rule.id, customer=customer)
    last = pointer.last_agent_id or 0
    agent = next((agent for agent in agents if agent.pk > last), agents[0])
    pointer.last_agent = agent
    pointer.save(update_fields=["last_agent"])
    return agent


def _note(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]) -> str:
    workflows.job_note(customer=customer, ticket=ticket, job=rule.job, body=action["body"])
    return "private note added"


def _notify(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]) -> str:
    """Tell the roles' and the named people who may still see the customer (membership may have
    ended since the rule was saved; a provider rule's named staff are checked against each
    ticket's customer here), screened for day passes when delivered."""
    ticket = Ticket.objects.select_related("requester_user", "assignee").get(pk=ticket.pk)
    roles = ticket_roles_read(customer, ticket)
    people = [person for role in action["roles"] for person in roles[role]]
    people += list(User.objects.filter(pk__in=action["users"], is_active=True))
    allowed = set(
        audience(customer).filter(pk__in={person.pk for person in people}).values_list("pk", flat=True)
    )
    number = display_number(customer, ticket.number)
    deliveries: list[Delivery] = []
    seen: set[int] = set()
    for person in people:
        if person.pk in seen or person.pk not in allowed:
            continue
        seen.add(person.pk)
        message = Message(
            kind=NotificationKind.AUTOMATION,
            customer=customer,
            title=f"{number}: {rule.name}",
            body=action["message"] or f"The automation rule '{rule.name}' asks you to look at {number}.",
            url=ticket_url(customer, ticket, person),
            ticket_id=ticket.pk,
            ticket_number=number,
            subject=mail_subject(number, ticket),
        )
        key = f"{customer.schema_name}:automation:{action[_ROW]}"  # the RuleAction row: idempotent
        deliveries.append((person, message, key))
    transaction.on_commit(partial(_deliver, deliveries), robust=True)
    return f"{len(deliveries)} notified"


def _close(customer: Customer, ticket: Ticket, rule: LoadedRule, owner: User, action: dict[str, Any]) -> str:
    current = Ticket.objects.only("status").get(pk=ticket.pk).status
    if current in (Status.OPEN, Status.PENDING):
        workflows.ticket_transition(customer=customer, ticket=ticket, by=owner, status=Status.RESOLVED)
    if current != Status.CLOSED:
        workflows.ticket_transition(customer=customer, ticket=ticket, by=owner, status=Status.CLOSED)
    return "closed"


_ACTIONS = {"set": _set, "assign": _assign, "note": _note, "notify": _notify, "close": _close}
