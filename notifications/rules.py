"""Who is told of what: notification rules, their built-in defaults, and a person's preferences.

Precedence, per event and customer: the customer's own rules for the event replace the
provider-wide ones, which replace the built-in defaults (``DEFAULT_RULES``). A disabled rule
still takes its level's place, so disabling a customer's only rule for an event tells nobody.
Within a level every enabled rule applies; a person named by several gets the union of their
channels.

Recipients are roles (``Role``) or named people. The caller supplies the people of each role
(``tickets.notices.ticket_roles`` for a ticket, ``customer_roles`` for a customer-wide event):
this app stands below tickets and never reads them. A named person must be allowed to see the
customer (provider-wide rules: provider staff); one who no longer may is left out at delivery.

Muting: a person mutes an event per channel on their preference page. A mute is honoured only
where the rule is ``mutable``; the defaults make SLA breaches unmutable (the provider must hear
of them), and an event whose provider-level rules are all unmutable cannot be muted at all
(``unmutable_events``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from accounts.models import CustomerRole, User, UserKind
from core.parsers import is_id
from notifications.models import Channel, NotificationPreference, NotificationRule, Role, RuleEvent
from notifications.services import Delivery, Message
from tenants.access import member_agents, ticket_workers
from tenants.models import Customer

BOTH = frozenset({Channel.EMAIL.value, Channel.IN_APP.value})
CUSTOMER_SIDE = ((Role.REQUESTER.value,), (Role.COLLABORATORS.value,))


@dataclass(frozen=True)
class Rule:
    """A rule as routing reads it: a row's, or a built-in default (``id`` None)."""

    event: str
    recipients: tuple[tuple[str, Any], ...]  # ("role", "assignee") or ("user", 12)
    channels: frozenset[str] = BOTH
    only_unassigned: bool = False
    mutable: bool = True
    enabled: bool = True
    id: int | None = None
    customer_id: int | None = None
    name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_default(self) -> bool:
        return self.id is None

    def as_data(self) -> dict[str, Any]:
        """The API's shape (``recipients: [{role}|{user}]``)."""
        return {
            "id": self.id,
            "name": self.name or ("Default" if self.is_default else ""),
            "event": self.event,
            "recipients": [{kind: value} for kind, value in self.recipients],
            "channels": sorted(self.channels),
            "only_unassigned": self.only_unassigned,
            "mutable": self.mutable,
            "enabled": self.enabled,
            "default": self.is_default,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _roles(*roles: Role) -> tuple[tuple[str, Any], ...]:
    return tuple(("role", role.value) for role in roles)


# Today's fixed routing, as rules, plus what agents were never told: a new unassigned ticket,
# and a customer's answer on an unassigned one, go to the customer's member agents. The actor
# is never told of their own change (but the requester is of their ticket's receipt).
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(RuleEvent.TICKET_CREATED, _roles(Role.REQUESTER)),
    Rule(RuleEvent.TICKET_CREATED, _roles(Role.MEMBER_AGENTS), only_unassigned=True),
    Rule(
        RuleEvent.CUSTOMER_REPLIED,
        _roles(Role.ASSIGNEE, Role.WATCHERS, Role.REQUESTER, Role.COLLABORATORS),
    ),
    Rule(RuleEvent.CUSTOMER_REPLIED, _roles(Role.MEMBER_AGENTS), only_unassigned=True),
    Rule(RuleEvent.AGENT_REPLIED, _roles(Role.REQUESTER, Role.COLLABORATORS, Role.WATCHERS)),
    Rule(RuleEvent.ASSIGNED, _roles(Role.ASSIGNEE)),
    Rule(RuleEvent.STATUS_CHANGED, _roles(Role.REQUESTER, Role.COLLABORATORS, Role.WATCHERS)),
    Rule(RuleEvent.TICKET_UPDATED, _roles(Role.REQUESTER, Role.COLLABORATORS, Role.WATCHERS)),
    Rule(RuleEvent.RESOLVED, _roles(Role.REQUESTER, Role.COLLABORATORS, Role.WATCHERS)),
    Rule(RuleEvent.SLA_WARNING, _roles(Role.ASSIGNEE)),
    Rule(RuleEvent.SLA_WARNING, _roles(Role.PROVIDER_ADMINS), only_unassigned=True),
    Rule(RuleEvent.SLA_BREACH, _roles(Role.ASSIGNEE), mutable=False),
    Rule(RuleEvent.SLA_BREACH, _roles(Role.PROVIDER_ADMINS), only_unassigned=True, mutable=False),
    Rule(RuleEvent.PREPAID_LOW, _roles(Role.PROVIDER_ADMINS, Role.CUSTOMER_ADMINS)),
    Rule(RuleEvent.REPORT_ISSUED, _roles(Role.CUSTOMER_ADMINS)),
)

# The roles an event without a ticket has (the others are empty for it).
CUSTOMER_WIDE_EVENTS = frozenset({RuleEvent.PREPAID_LOW.value, RuleEvent.REPORT_ISSUED.value})


def as_rule(row: NotificationRule) -> Rule:
    return Rule(
        event=row.event,
        recipients=tuple((kind, value) for item in row.recipients for kind, value in item.items()),
        channels=frozenset(row.channels),
        only_unassigned=row.only_unassigned,
        mutable=row.mutable,
        enabled=row.enabled,
        id=row.pk,
        customer_id=row.customer_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass
class RuleBook:
    """The rules of some customers and the provider-wide ones, read in one query."""

    rows: dict[tuple[int | None, str], list[Rule]] = field(default_factory=dict)

    @classmethod
    def load(cls, customers: Iterable[Customer] = ()) -> RuleBook:
        ids = {customer.pk for customer in customers}
        book = cls()
        for row in NotificationRule.objects.filter(Q(customer__isnull=True) | Q(customer__in=ids)):
            book.rows.setdefault((row.customer_id, row.event), []).append(as_rule(row))
        return book

    def level(self, customer_id: int | None, event: str) -> str:
        """Where ``event``'s rules for the customer come from: customer, provider or default."""
        if customer_id is not None and (customer_id, event) in self.rows:
            return "customer"
        if (None, event) in self.rows:
            return "provider"
        return "default"

    def rules(self, customer_id: int | None, event: str, *, disabled: bool = False) -> list[Rule]:
        """The rules that decide ``event`` for the customer (None: provider-wide), enabled ones
        unless ``disabled``."""
        level = self.level(customer_id, event)
        if level == "customer":
            found = self.rows[(customer_id, event)]
        elif level == "provider":
            found = self.rows[(None, event)]
        else:
            found = [rule for rule in DEFAULT_RULES if rule.event == event]
        return [rule for rule in found if disabled or rule.enabled]


def audience(customer: Customer) -> QuerySet[User]:
    """Everyone who may see ``customer`` (active): those who may work its tickets
    (``ticket_workers``: provider admins, its member agents, its own agents) and all its own
    people."""
    return User.objects.filter(is_active=True).filter(
        Q(pk__in=ticket_workers(customer).values("pk")) | Q(kind=UserKind.CUSTOMER_USER, customer=customer)
    )


class Roles(Mapping[str, Sequence[User]]):
    """The people of each role, each read only when a rule first asks for it (the defaults
    name few roles, and a sweep must not read what no rule wants)."""

    def __init__(self, readers: Mapping[str, Callable[[], Iterable[User]]]) -> None:
        self._readers = dict(readers)
        self._read: dict[str, list[User]] = {}

    def __getitem__(self, role: str) -> list[User]:
        if role not in self._read:
            self._read[role] = list(self._readers[role]())
        return self._read[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._readers)

    def __len__(self) -> int:
        return len(self._readers)


def provider_admins() -> list[User]:
    return list(User.objects.filter(is_active=True, kind=UserKind.PROVIDER_ADMIN).order_by("name", "pk"))


def customer_roles(customer: Customer, *, admins: Callable[[], Iterable[User]] = provider_admins) -> Roles:
    """The customer-wide roles (active people): the provider agents who are its members
    (explicitly or through ``all_customers``), the provider admins (``admins``: a reader a
    caller with many customers shares), the customer's admins."""
    active = User.objects.filter(is_active=True).order_by("name", "pk")
    return Roles(
        {
            Role.MEMBER_AGENTS.value: lambda: member_agents(customer).order_by("name", "pk"),
            Role.PROVIDER_ADMINS.value: admins,
            Role.CUSTOMER_ADMINS.value: lambda: active.filter(
                kind=UserKind.CUSTOMER_USER, customer=customer, customer_role=CustomerRole.ADMIN
            ),
        }
    )


@dataclass(frozen=True)
class Recipient:
    user: User
    channels: frozenset[str]
    mutable: bool
    muted: frozenset[str] = frozenset()  # channels the person muted (left out of ``channels``)


@dataclass
class Router:
    """Routes many events with what they share read once: the rules (``book``), the named
    people per customer and the mutes per event."""

    book: RuleBook
    _named: dict[tuple[int, frozenset[Any]], dict[Any, User]] = field(default_factory=dict)
    _mutes: dict[str, dict[int, list[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, customers: Iterable[Customer] = ()) -> Router:
        return cls(RuleBook.load(customers))

    def named(self, customer: Customer, ids: frozenset[Any]) -> dict[Any, User]:
        """The named people who may still see ``customer``, by id."""
        if not ids:
            return {}
        if (customer.pk, ids) not in self._named:
            found = audience(customer).filter(pk__in=[pk for pk in ids if is_id(pk)])
            self._named[(customer.pk, ids)] = {user.pk: user for user in found}
        return self._named[(customer.pk, ids)]

    def mutes(self, event: str) -> dict[int, list[str]]:
        """Who muted which channels of ``event`` (one query per event)."""
        if event not in self._mutes:
            found = NotificationPreference.objects.filter(muted__has_key=event)
            self._mutes[event] = {
                user_id: muted[event] for user_id, muted in found.values_list("user_id", "muted")
            }
        return self._mutes[event]

    def route(
        self,
        customer: Customer,
        event: str,
        roles: Mapping[str, Sequence[User]],
        *,
        assigned: bool,
        left_out: Collection[int] = (),
        with_muted: bool = False,
    ) -> list[Recipient]:
        """Who is told of ``event`` of ``customer``, on which channels, in the rules' order:
        each person once, their channels the union of the rules naming them, less what they
        muted where every rule naming them allows it. ``assigned`` says whether the ticket has
        an assignee (rules ``only_unassigned`` skip it); ``left_out`` are people never told (the
        actor); ``with_muted`` keeps those whose every channel is muted (a preview shows them)."""
        rules = [
            rule for rule in self.book.rules(customer.pk, event) if not (rule.only_unassigned and assigned)
        ]
        named = self.named(
            customer, frozenset(value for rule in rules for kind, value in rule.recipients if kind == "user")
        )
        found: dict[int, tuple[User, set[str], bool]] = {}
        for rule in rules:
            for kind, value in rule.recipients:
                people = roles.get(value, ()) if kind == "role" else [named[value]] if value in named else []
                for user in people:
                    if user.pk in left_out or not user.is_active:
                        continue
                    _, channels, mutable = found.get(user.pk, (user, set(), True))
                    found[user.pk] = (user, channels | rule.channels, mutable and rule.mutable)
        mutes = self.mutes(event) if any(mutable for _, _, mutable in found.values()) else {}
        told: list[Recipient] = []
        for user, channels, mutable in found.values():
            muted = frozenset(mutes.get(user.pk, ())) & channels if mutable else frozenset()
            recipient = Recipient(user, frozenset(channels) - muted, mutable, muted)
            if recipient.channels or with_muted:
                told.append(recipient)
        return told


def route(
    customer: Customer,
    event: str,
    roles: Mapping[str, Sequence[User]],
    *,
    assigned: bool,
    router: Router | None = None,
    left_out: Collection[int] = (),
    with_muted: bool = False,
) -> list[Recipient]:
    """``Router.route`` for one event (a fresh router unless one is given)."""
    router = router or Router.load([customer])
    return router.route(customer, event, roles, assigned=assigned, left_out=left_out, with_muted=with_muted)


def deliveries(
    recipients: Sequence[Recipient], message_for: Callable[[User], Message], key: str
) -> list[Delivery]:
    """The batch for ``notify_many``: each recipient's message (``message_for(user)``) on the
    channels the rules chose for them, under the event's key."""
    told: list[Delivery] = []
    for recipient in recipients:
        message = message_for(recipient.user)
        told.append(
            (
                recipient.user,
                replace(
                    message,
                    in_app=Channel.IN_APP in recipient.channels,
                    email=Channel.EMAIL in recipient.channels,
                ),
                key,
            )
        )
    return told


def unmutable_events(book: RuleBook | None = None) -> set[str]:
    """Events nobody may mute: those whose provider-level rules (provider-wide, else the
    defaults) are all unmutable."""
    book = book or RuleBook.load()
    return {
        event
        for event in RuleEvent.values
        if (rules := book.rules(None, event)) and not any(rule.mutable for rule in rules)
    }


def effective_rules(customer: Customer | None) -> list[dict[str, Any]]:
    """What the rules list shows for one level (a customer's, or provider-wide for None): its
    own rules, and for each event it has none of, the rules it inherits (provider-wide ones, or
    the built-in defaults), marked ``inherited``. Each carries the keys of a rule's detail
    (``customer``, ``created_at``, ``updated_at``: null for a built-in default)."""
    own_level = "customer" if customer is not None else "provider"
    customer_id = customer.pk if customer is not None else None
    book = RuleBook.load([customer] if customer is not None else [])
    shown: list[dict[str, Any]] = []
    for event in RuleEvent.values:
        level = book.level(customer_id, event)
        for rule in book.rules(customer_id, event, disabled=True):
            shown.append(
                {
                    **rule.as_data(),
                    "customer": customer.slug if customer is not None and level == "customer" else None,
                    "source": level,
                    "inherited": level != own_level,
                }
            )
    return shown
