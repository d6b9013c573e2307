"""The access review (issue 17; SOC 2 CC6.2/CC6.3, ISO 27001 A.5.18): who had access to which
customer during a period, with which role, granted and revoked when and by whom, and when each
person last used it.

It covers provider admins (every customer), provider agents (their memberships, or every
customer), occasional agents (their memberships and the day passes used in the period), and
each customer's agents and admins. Grants and revocations are read from the audit trail itself:
memberships created and deleted, and a person's ``customer_role`` and ``is_active`` changes, in
the provider's chain and in each customer's (a customer's people are changed inside it). Access
that predates the trail is shown as granted when the row was made, by nobody on record.

A person's last access is their newest sign-in, API token use or session start on record; for a
deactivated person, the time from deactivation to that last access is shown (positive: they got
in after they were deactivated, which an auditor asks about).

Everything is read with one query per source, never one per customer: the audit entries of all
chains with a single ``UNION ALL``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from datetime import date as Date
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, Max, Q
from psycopg import sql

from accounts.models import AgentMembership, ApiToken, CustomerRole, Licence, User, UserKind
from audit import chain
from audit.models import AuditEntry
from billing.models import DayPassConsumption
from core.parsers import is_id
from tenants.models import Customer

ALL_CUSTOMERS = "*"
ROLES = ("provider admin", "provider agent", "occasional agent", "customer agent", "customer admin")


@dataclass(frozen=True)
class Grant:
    at: datetime | None
    by: str  # an email, a job's name, or "" (before the audit trail)


@dataclass(frozen=True)
class AccessRow:
    customer: str  # a slug, or ALL_CUSTOMERS
    customer_name: str
    email: str
    name: str
    role: str  # provider admin, provider agent, occasional agent, customer agent, customer admin
    granted: Grant
    revoked: Grant | None
    passes_used: int | None  # occasional agents: day passes used in the period
    last_access: datetime | None
    deactivated_at: datetime | None

    @property
    def deactivation_to_last_access(self) -> timedelta | None:
        if self.deactivated_at is None or self.last_access is None:
            return None
        return self.last_access - self.deactivated_at


@dataclass(frozen=True)
class _Change:
    at: datetime
    chain: str
    content_type: int
    object_pk: str
    action: int
    changes: dict[str, Any]
    by: str


def _changes(content_types: list[int]) -> list[_Change]:
    """The create, update and delete entries of ``content_types`` in every chain, oldest first."""
    chains = chain.chains()
    if not chains:
        return []
    selects = [
        sql.SQL(
            "SELECT {name}::text, timestamp, content_type_id, object_pk, action, changes, "
            "coalesce(actor_email, ''), job FROM {table} "
            "WHERE content_type_id = ANY(%(types)s) AND action IN (0, 1, 2)"
        ).format(name=sql.Literal(name), table=sql.Identifier(name, chain.ENTRY_TABLE))
        for name in chains
    ]
    query = sql.SQL(" UNION ALL ").join(selects) + sql.SQL(" ORDER BY 2, 1")
    with connection.cursor() as cursor:
        cursor.execute(query, {"types": content_types})
        return [
            _Change(
                at=row[1],
                chain=row[0],
                content_type=row[2],
                object_pk=row[3],
                action=row[4],
                changes=json.loads(row[5]) if isinstance(row[5], str) else row[5] or {},
                by=row[6] or row[7],
            )
            for row in cursor.fetchall()
        ]


def _new(change: _Change, field: str) -> str | None:
    values = change.changes.get(field)
    return None if not values else values[-1]


def _old(change: _Change, field: str) -> str | None:
    values = change.changes.get(field)
    return None if not values else values[0]


def _window(start: Date, end: Date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(
        end + timedelta(days=1), time.min, tzinfo=UTC
    )


def _overlaps(granted: Grant, revoked: Grant | None, since: datetime, until: datetime) -> bool:
    return (granted.at is None or granted.at < until) and (
        revoked is None or revoked.at is None or revoked.at >= since
    )


def access_review(start: Date, end: Date) -> list[AccessRow]:
    """Every access that existed at some moment of ``start``..``end`` (UTC days, inclusive)."""
    since, until = _window(start, end)
    user_type = ContentType.objects.get_for_model(User).pk
    membership_type = ContentType.objects.get_for_model(AgentMembership).pk
    history = _changes([user_type, membership_type])
    of_person: dict[int, list[_Change]] = defaultdict(list)
    for change in history:
        if change.content_type == user_type and is_id(change.object_pk):
            of_person[int(change.object_pk)].append(change)

    people = {
        user.pk: user
        for user in User.objects.filter(date_joined__lt=until).select_related("customer").order_by("email")
    }
    customers = {customer.pk: customer for customer in Customer.objects.customers()}
    last_access = _last_access()
    deactivated = _deactivations(of_person)
    passes = dict(
        DayPassConsumption.objects.filter(consumed_at__gte=since, consumed_at__lt=until)
        .values_list("agent")
        .annotate(n=Count("id"))
    )

    rows: list[AccessRow] = []

    def add(user: User, customer: Customer | None, role: str, granted: Grant, revoked: Grant | None) -> None:
        if not _overlaps(granted, revoked, since, until):
            return
        occasional = user.licence == Licence.OCCASIONAL
        rows.append(
            AccessRow(
                customer=customer.slug if customer else ALL_CUSTOMERS,
                customer_name=customer.name if customer else "All customers",
                email=user.email,
                name=user.name,
                role=role,
                granted=granted,
                revoked=revoked,
                passes_used=passes.get(user.pk, 0) if occasional else None,
                last_access=last_access.get(user.pk),
                deactivated_at=deactivated.get(user.pk) if not user.is_active else None,
            )
        )

    # Provider staff: admins and all-customer agents reach every customer; others by membership.
    for user in people.values():
        if user.kind == UserKind.PROVIDER_ADMIN or (user.kind == UserKind.AGENT and user.all_customers):
            role = "provider admin" if user.kind == UserKind.PROVIDER_ADMIN else _agent_role(user)
            created = next(
                (Grant(c.at, c.by) for c in of_person[user.pk] if c.action == AuditEntry.Action.CREATE), None
            )
            add(user, None, role, created or Grant(user.date_joined, ""), _revoked(user, deactivated))

    memberships = [change for change in history if change.content_type == membership_type]
    for (agent_id, customer_id), (granted, revoked) in _memberships(memberships).items():
        agent, customer = people.get(agent_id), customers.get(customer_id)
        if agent is not None and customer is not None:
            add(agent, customer, _agent_role(agent), granted, revoked or _revoked(agent, deactivated))

    # Customer agents and admins: their role's history, in whichever chain it was written.
    for user in people.values():
        if user.kind != UserKind.CUSTOMER_USER or user.customer is None:
            continue
        for role, granted, revoked in _role_spans(of_person[user.pk], user):
            if role in (CustomerRole.ADMIN, CustomerRole.AGENT):
                label = "customer admin" if role == CustomerRole.ADMIN else "customer agent"
                add(user, user.customer, label, granted, revoked or _revoked(user, deactivated))

    rows.sort(key=lambda row: (row.customer != ALL_CUSTOMERS, row.customer, row.email, row.role))
    return rows


def _agent_role(user: User) -> str:
    return "occasional agent" if user.licence == Licence.OCCASIONAL else "provider agent"


def _revoked(user: User, deactivated: dict[int, datetime]) -> Grant | None:
    """A deactivated person's access ended at their deactivation."""
    if user.is_active:
        return None
    return Grant(deactivated.get(user.pk), "deactivated")


def _deactivations(of_person: dict[int, list[_Change]]) -> dict[int, datetime]:
    """Each person's latest deactivation on record."""
    found: dict[int, datetime] = {}
    for user_id, changes in of_person.items():
        for change in changes:
            if change.action == AuditEntry.Action.UPDATE and _new(change, "is_active") == "False":
                found[user_id] = change.at
    return found


def _memberships(history: list[_Change]) -> dict[tuple[int, int], tuple[Grant, Grant | None]]:
    """(agent, customer) → when the membership was granted and revoked (the latest span), from
    the membership entries, then the memberships that predate the trail."""
    spans: dict[tuple[int, int], tuple[Grant, Grant | None]] = {}
    by_pk: dict[str, tuple[int, int]] = {}
    for change in history:
        if (
            change.action == AuditEntry.Action.CREATE
            and "agent" in change.changes
            and "customer" in change.changes
        ):
            key = _pair(_new(change, "agent"), _new(change, "customer"))
            if key is not None:
                by_pk[change.object_pk] = key
                spans[key] = (Grant(change.at, change.by), None)
        elif change.action == AuditEntry.Action.DELETE:
            key = by_pk.get(change.object_pk) or _pair(_old(change, "agent"), _old(change, "customer"))
            if key is not None and key in spans:
                spans[key] = (spans[key][0], Grant(change.at, change.by))
    for agent_id, customer_id, created_at in AgentMembership.objects.values_list(
        "agent", "customer", "created_at"
    ):
        spans.setdefault((agent_id, customer_id), (Grant(created_at, ""), None))
    return spans


def _pair(agent: str | None, customer: str | None) -> tuple[int, int] | None:
    if is_id(agent) and is_id(customer):
        return int(str(agent)), int(str(customer))
    return None


def _role_spans(history: list[_Change], user: User) -> list[tuple[str, Grant, Grant | None]]:
    """A customer's person's roles over time (``history``: the entries of that person, oldest
    first): (role, granted, revoked)."""
    spans: list[tuple[str, Grant, Grant | None]] = []
    role: str | None = None
    since = Grant(user.date_joined, "")
    for change in history:
        if change.action == AuditEntry.Action.DELETE:
            continue
        new_role = _new(change, "customer_role")
        if new_role is None or new_role == role:
            continue
        if role is not None:
            spans.append((role, since, Grant(change.at, change.by)))
        role, since = new_role, Grant(change.at, change.by)
    current = user.customer_role
    if role is None:  # nothing on record: the role it has, since it was made
        spans.append((current or "", since, None))
    elif role == current:
        spans.append((role, since, None))
    else:  # changed outside the trail: what it became is on record from now
        spans.append((role, since, Grant(None, "")))
        spans.append((current or "", Grant(None, ""), None))
    return spans


def _last_access() -> dict[int, datetime]:
    """Each person's newest access on record: sign-in, token use, or session start."""
    newest: dict[int, datetime] = {}

    def keep(user_id: int | None, at: datetime | None) -> None:
        if user_id is not None and at is not None and (user_id not in newest or at > newest[user_id]):
            newest[user_id] = at

    for user_id, at in User.objects.filter(last_login__isnull=False).values_list("pk", "last_login"):
        keep(user_id, at)
    for user_id, at in ApiToken.objects.values_list("user").annotate(at=Max("last_used_at")):
        keep(user_id, at)
    signed_in = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS).filter(
        Q(additional_data__event="signed in") | Q(additional_data__event="token used")
    )
    for user_id, at in signed_in.values_list("actor_id").annotate(at=Max("timestamp")):
        keep(user_id, at)
    return newest
