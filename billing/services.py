"""Day passes: buying them, using them, closing them, and the check every agent request passes.

The rules are those of ``spec/day-passes.md``. A pass belongs to one agent and one local date
(the date in the agent's time zone at consumption) and is valid from its consumption until the
next local midnight of that zone, whatever the agent's zone becomes later. The database keeps
the two promises that matter under concurrency: one pass per agent and date (a unique
constraint: of fifty simultaneous first requests, one inserts and the others find its row) and
a balance that never goes below zero (the pool's CHECK, hit by the ledger trigger in the
consuming transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.utils import timezone
from psycopg import errors as pg_errors

from accounts.gates import api_call_check
from accounts.models import Licence, User, UserKind
from billing.models import (
    AgentActivityDay,
    Channel,
    DayPassConsumption,
    DayPassExpiry,
    DayPassPool,
    DayPassPurchase,
)
from core.errors import RuleViolation
from core.parsers import zone_or_utc

logger = logging.getLogger(__name__)

MAX_PURCHASE = 10_000
EXPIRY_BATCH = 1_000
# Facts about people, the same on every host: the platform cache's keys carry no schema.
CACHE = "platform"


class DayPassRequired(RuleViolation):
    """No active pass and none can be consumed now (402 ``day_pass_required``)."""

    def __init__(self, detail: str) -> None:
        super().__init__("day_pass_required", detail, status=402)


@dataclass(frozen=True)
class PassUse:
    """What the check decided for one request of an occasional agent."""

    consumption: DayPassConsumption | None  # the pass consumed by this request, if it did
    valid_until: datetime

    @property
    def consumed(self) -> bool:
        return self.consumption is not None


# --- the pool and purchases ------------------------------------------------------------------


def pool() -> DayPassPool:
    return DayPassPool.objects.get(pk=1)


def ledger_balance() -> int:
    """The balance recomputed from the entries (the pool keeps it; this checks it)."""
    bought = DayPassPurchase.objects.aggregate(total=Sum("quantity"))["total"] or 0
    return int(bought) - DayPassConsumption.objects.count()


def unit_price() -> Decimal:
    return Decimal(settings.DAY_PASS_PRICE)


def day_passes_buy(*, by: User, quantity: int) -> DayPassPurchase:
    """A provider admin buys ``quantity`` passes for the pool at the configured unit price."""
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied("Only provider admins can buy day passes.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_PURCHASE:
        raise ValidationError({"quantity": [f"Buy between 1 and {MAX_PURCHASE:,} day passes at a time."]})
    price = unit_price()
    return DayPassPurchase.objects.create(
        quantity=quantity, unit_price=price, total=price * quantity, bought_by=by, bought_at=timezone.now()
    )


# --- who needs a pass, and the validity of theirs ----------------------------------------------


def needs_day_pass(user: User) -> bool:
    """Occasional agents do; full-time agents, provider admins and customers' people never."""
    return bool(user.is_active and user.kind == UserKind.AGENT and user.licence == Licence.OCCASIONAL)


def agent_zone(user: User) -> ZoneInfo:
    return zone_or_utc(user.timezone)


def next_local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of the local date after ``day`` in ``zone`` (where the clocks jump over
    midnight, the instant of the jump: a local time in a gap resolves with the offset before it)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def validity_cache_key(user: User) -> str:
    return f"day-pass:valid-until:{user.pk}"


def active_until(user: User, now: datetime) -> datetime | None:
    """The end of ``user``'s pass valid at ``now``, if any: from the cache (one round trip), else
    from the ledger (then cached until it ends). The instant itself decides, never the cache's
    expiry or the expiry job."""
    cache = caches[CACHE]
    cached = cache.get(validity_cache_key(user))
    if cached is not None:
        until = datetime.fromtimestamp(cached, UTC)
        if now < until:
            return until
    found: datetime | None = (
        DayPassConsumption.objects.filter(agent=user, valid_until__gt=now)
        .order_by("-valid_until")
        .values_list("valid_until", flat=True)
        .first()
    )
    if found is not None:
        _remember(user, found, now)
    return found


def holding_passes(users: Iterable[User], now: datetime) -> set[int]:
    """Of ``users``, the ids of those holding a pass valid at ``now``, in one query (for a
    batch of people, where ``active_until`` would ask once per person)."""
    ids = {user.pk for user in users}
    if not ids:
        return set()
    return set(
        DayPassConsumption.objects.filter(agent_id__in=ids, valid_until__gt=now).values_list(
            "agent_id", flat=True
        )
    )


def _remember(user: User, until: datetime, now: datetime) -> None:
    seconds = max(1, min(int((until - now).total_seconds()) + 1, 2 * 86_400))
    caches[CACHE].set(validity_cache_key(user), until.timestamp(), timeout=seconds)


def day_pass_consume(*, user: User, channel: str, now: datetime | None = None) -> PassUse:
    """Give ``user`` access for the current local date: their active pass if they have one
    (nothing consumed), else one pass from the pool, or ``DayPassRequired``."""
    if not needs_day_pass(user):
        raise RuleViolation("no_day_pass_needed", "Only occasional agents use day passes.", status=409)
    now = now or timezone.now()
    until = active_until(user, now)
    if until is not None:
        return PassUse(consumption=None, valid_until=until)
    zone = agent_zone(user)
    local_date = now.astimezone(zone).date()
    consumption = DayPassConsumption(
        agent=user,
        local_date=local_date,
        timezone=str(zone.key),
        consumed_at=now,
        valid_until=next_local_midnight(local_date, zone),
        channel=channel,
    )
    try:
        with transaction.atomic():
            consumption.save()
    except IntegrityError as exc:
        if isinstance(exc.__cause__, pg_errors.UniqueViolation):
            return _already_used(user, local_date, now)
        if _constraint_of(exc) == POOL_NOT_NEGATIVE:
            raise DayPassRequired(_empty_pool_sentence()) from None
        raise
    transaction.on_commit(lambda: _remember(user, consumption.valid_until, now))
    return PassUse(consumption=consumption, valid_until=consumption.valid_until)


POOL_NOT_NEGATIVE = "billing_pool_balance_not_negative"


def _constraint_of(exc: IntegrityError) -> str | None:
    cause = exc.__cause__
    return cause.diag.constraint_name if isinstance(cause, pg_errors.IntegrityError) else None


def _already_used(user: User, local_date: date, now: datetime) -> PassUse:
    """Another request consumed this date's pass first (it committed while we waited on the
    unique key): use it. If it has already ended (the agent's time zone moved west after using
    it), that date's pass is spent: at most one per date, and a zone change never extends one."""
    existing = DayPassConsumption.objects.get(agent=user, local_date=local_date)
    if existing.valid_until > now:
        _remember(user, existing.valid_until, now)
        return PassUse(consumption=None, valid_until=existing.valid_until)
    ended = timezone.localtime(existing.valid_until, agent_zone(user)).strftime("%Y-%m-%d %H:%M %Z")
    raise DayPassRequired(
        f"Your day pass for {local_date.isoformat()} (used in {existing.timezone}) ended at {ended}; "
        "one pass is used per local date, so the next one can be used from your next midnight."
    )


def _empty_pool_sentence() -> str:
    admins = list(
        User.objects.filter(kind=UserKind.PROVIDER_ADMIN, is_active=True)
        .order_by("name")
        .values_list("name", "email")
    )
    who = ", ".join(f"{name} <{email}>" for name, email in admins[:3]) or "a provider admin"
    return f"No day passes are left in the pool. Ask {who} to buy more."


def pass_state(consumption: DayPassConsumption, now: datetime | None = None) -> str:
    """``expired`` once the pass's instant has passed, whether the expiry job recorded it yet or
    not (rows annotated with ``has_expiry`` save the lookup), else ``active``."""
    if getattr(consumption, "has_expiry", False) or consumption.valid_until <= (now or timezone.now()):
        return "expired"
    return "active"


def consumption_log() -> QuerySet[DayPassConsumption]:
    """The consumption log, newest first, each row knowing whether its expiry is recorded
    (filtered by ``billing.filtersets.ConsumptionFilterSet``)."""
    return (
        DayPassConsumption.objects.select_related("agent")
        .annotate(has_expiry=Exists(DayPassExpiry.objects.filter(consumption=OuterRef("pk"))))
        .order_by("-consumed_at", "-id")
    )


# --- the check on every agent-facing request ----------------------------------------------------


def activity_note(user: User, now: datetime) -> None:
    """Remember that a full-time agent worked on this local date (once per day: a cache ``add``
    on every request, one insert on the first)."""
    local_date = now.astimezone(agent_zone(user)).date()
    if caches[CACHE].add(f"activity:{user.pk}:{local_date.isoformat()}", 1, timeout=2 * 86_400):
        AgentActivityDay.objects.bulk_create(
            [AgentActivityDay(agent=user, local_date=local_date)], ignore_conflicts=True
        )


def api_day_pass(user: User, now: datetime | None = None) -> PassUse | None:
    """The API's side of the check: an occasional agent's call uses their active pass, or
    consumes one itself (nobody is there to click Proceed), or raises ``DayPassRequired``.
    ``None`` for everyone who needs no pass."""
    now = now or timezone.now()
    if not needs_day_pass(user):
        if user.is_active and user.is_provider_staff:
            activity_note(user, now)
        return None
    return day_pass_consume(user=user, channel=Channel.API, now=now)


@api_call_check
def api_call_day_pass(user: User) -> dict[str, str]:
    """Every API call passes here (``accounts.gates``): ``X-Day-Pass: consumed`` on the call
    that took a pass."""
    use = api_day_pass(user)
    return {"X-Day-Pass": "consumed"} if use is not None and use.consumed else {}


# --- expiry -------------------------------------------------------------------------------------


def day_passes_expire(*, now: datetime | None = None) -> int:
    """Record the end of every pass whose instant has passed (idempotent: the expiry row is
    unique per pass; a second run, or two at once, record nothing more). Run under a job."""
    now = now or timezone.now()
    ended = list(
        DayPassConsumption.objects.filter(valid_until__lte=now, expiry__isnull=True).order_by("valid_until")[
            :EXPIRY_BATCH
        ]
    )
    recorded = 0
    for consumption in ended:
        try:
            with transaction.atomic():
                DayPassExpiry.objects.create(
                    consumption=consumption, expired_at=consumption.valid_until, recorded_at=now
                )
        except IntegrityError:
            continue  # another run recorded it meanwhile
        recorded += 1
    return recorded
