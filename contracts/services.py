"""Contracts and their prepaid ledger (``spec/reports.md``).

A prepaid block is a ledger like the day-pass pool: top-ups, drawdowns (each billable time entry
dated in the contract draws its minutes down), reversals (a reversed entry draws them back) and
the expiry at the contract's end. The balance is the sum of the entries. It may go negative:
overage is shown, never refused (the work was done).

Every movement locks the contract's row first, so movements of one contract take turns: the
balance before and after each is exact, a warning goes out once per crossing of the threshold
(``warn_percent`` of the last top-up) however many entries arrive at once, and the expiry reads
the balance it empties.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from contracts.models import Contract, EntryKind, PrepaidEntry, TimeEntry
from core.parsers import zone_or_utc
from notifications.models import NotificationKind, RuleEvent
from notifications.rules import customer_roles, deliveries, route
from notifications.services import Message, notify_many
from tenants.models import Customer

logger = logging.getLogger(__name__)

EXPIRY_JOB = "contracts.expire_prepaid"
MAX_TOPUP_MINUTES = 100_000 * 60
MAX_PREPAID_HOURS = Decimal(100_000)
CONTRACT_FIELDS = ("name", "starts_on", "ends_on", "sla_policy", "prepaid_hours", "rollover", "warn_percent")


def local_today(customer: Customer, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zone_or_utc(customer.timezone)).date()


def local_midnight_after(day: date, customer: Customer) -> datetime:
    """The instant a contract ending on ``day`` ends: the next local midnight of the customer."""
    return datetime.combine(
        day + timedelta(days=1), time(0), tzinfo=zone_or_utc(customer.timezone)
    ).astimezone(UTC)


def contracts_of(customer: Customer) -> QuerySet[Contract]:
    return Contract.objects.filter(customer=customer).select_related("sla_policy")


def active_contracts(customer: Customer, day: date) -> QuerySet[Contract]:
    """Contracts covering ``day``, the latest start first."""
    return (
        contracts_of(customer)
        .filter(starts_on__lte=day)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .order_by("-starts_on", "-id")
    )


def contract_policy(customer: Customer, day: date) -> Contract | None:
    """The contract whose SLA is the customer's default on ``day`` (the SLA hierarchy's
    ``contract`` step): the active contract that names a policy, the latest start first."""
    return active_contracts(customer, day).filter(sla_policy__isnull=False).first()


# --- contracts -----------------------------------------------------------------------------------


def _require_admin(by: User) -> None:
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied("Only provider admins manage contracts.")


def _check(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        errors["ends_on"] = ["The last day cannot be before the first (starts_on)."]
    hours = values.get("prepaid_hours")
    if hours is not None and not Decimal(0) < hours <= MAX_PREPAID_HOURS:
        errors["prepaid_hours"] = [f"Give more than 0 and at most {MAX_PREPAID_HOURS:,} hours, or null."]
    warn = values.get("warn_percent")
    if warn is not None and not 0 <= warn <= 100:
        errors["warn_percent"] = ["Give a percentage from 0 to 100."]
    if not str(values.get("name", "x")).strip():
        errors["name"] = ["Give the contract a name."]
    if errors:
        raise ValidationError(errors)


def contract_create(*, customer: Customer, by: User, values: dict[str, Any]) -> Contract:
    """A new contract; with ``prepaid_hours``, its block starts with a top-up of those hours."""
    _require_admin(by)
    _check(values)
    with transaction.atomic():
        contract = Contract.objects.create(
            customer=customer, created_by=by, created_at=timezone.now(), **values
        )
        if contract.prepaid_hours is not None:
            _append(
                contract,
                EntryKind.TOPUP,
                int(contract.prepaid_hours * 60),
                by=by,
                note="the contract's block",
            )
    return contract


def contract_update(*, contract: Contract, by: User, changes: dict[str, Any]) -> Contract:
    """Change a contract's terms. A block, once a contract has one, is moved by top-ups only
    (``prepaid_hours`` then stays as bought); a contract without one may be given one."""
    _require_admin(by)
    merged = {name: getattr(contract, name) for name in CONTRACT_FIELDS} | changes
    _check(merged)
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        had_block = locked.prepaid_hours is not None
        if had_block and "prepaid_hours" in changes and changes["prepaid_hours"] != locked.prepaid_hours:
            raise ValidationError(
                {
                    "prepaid_hours": [
                        "The block is moved by top-ups (POST …/ledger/), not by changing its size."
                    ]
                }
            )
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, changes[name])
        if changed:
            locked.save(update_fields=[f"{name}_id" if name == "sla_policy" else name for name in changed])
        if not had_block and locked.prepaid_hours is not None:
            _append(
                locked, EntryKind.TOPUP, int(locked.prepaid_hours * 60), by=by, note="the contract's block"
            )
    return locked


# --- the ledger ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    minutes: int
    last_topup: int  # minutes of the latest top-up (0: none)
    warn_percent: int

    @property
    def threshold(self) -> Decimal:
        return Decimal(self.last_topup) * self.warn_percent / 100

    @property
    def low(self) -> bool:
        return self.last_topup > 0 and self.minutes < self.threshold

    @property
    def overage(self) -> int:
        return max(0, -self.minutes)


def balance_of(contract: Contract) -> Balance:
    entries = PrepaidEntry.objects.filter(contract=contract)
    total = entries.aggregate(total=Sum("minutes"))["total"] or 0
    last = (
        entries.filter(kind=EntryKind.TOPUP).order_by("-at", "-id").values_list("minutes", flat=True).first()
    )
    return Balance(minutes=int(total), last_topup=int(last or 0), warn_percent=contract.warn_percent)


def balances_of(contracts: list[Contract]) -> dict[int, Balance]:
    """Each prepaid contract's balance, in two queries whatever their number."""
    ids = [contract.pk for contract in contracts if contract.has_prepaid]
    sums = dict(
        PrepaidEntry.objects.filter(contract_id__in=ids)
        .values_list("contract_id")
        .annotate(total=Sum("minutes"))
        .values_list("contract_id", "total")
    )
    last = dict(
        PrepaidEntry.objects.filter(contract_id__in=ids, kind=EntryKind.TOPUP)
        .order_by("contract_id", "-at", "-id")
        .distinct("contract_id")
        .values_list("contract_id", "minutes")
    )
    return {
        contract.pk: Balance(
            int(sums.get(contract.pk) or 0), int(last.get(contract.pk) or 0), contract.warn_percent
        )
        for contract in contracts
        if contract.has_prepaid
    }


def ledger_of(contract: Contract) -> QuerySet[PrepaidEntry]:
    return PrepaidEntry.objects.filter(contract=contract).order_by("at", "id")


def topup(*, contract: Contract, by: User, minutes: int, note: str = "") -> PrepaidEntry:
    _require_admin(by)
    if not contract.has_prepaid:
        raise ValidationError({"kind": ["This contract has no prepaid block: give it prepaid_hours first."]})
    if isinstance(minutes, bool) or not 1 <= minutes <= MAX_TOPUP_MINUTES:
        raise ValidationError({"minutes": [f"Give from 1 to {MAX_TOPUP_MINUTES:,} minutes."]})
    with transaction.atomic():
        return _append(_locked(contract), EntryKind.TOPUP, minutes, by=by, note=note)


def _locked(contract: Contract) -> Contract:
    return Contract.objects.select_related("customer").select_for_update(of=("self",)).get(pk=contract.pk)


def _append(
    contract: Contract,
    kind: str,
    minutes: int,
    *,
    by: User | None = None,
    job: str = "",
    at: datetime | None = None,
    time_entry: TimeEntry | None = None,
    note: str = "",
) -> PrepaidEntry:
    """Add an entry to ``contract``'s ledger (its row locked by the caller's transaction) and warn
    once when this entry takes the balance below the threshold."""
    before = balance_of(contract)
    entry = PrepaidEntry.objects.create(
        contract=contract,
        kind=kind,
        minutes=minutes,
        at=at or timezone.now(),
        time_entry=time_entry,
        note=note[:200],
        by=by,
        by_job=job,
    )
    after = Balance(
        before.minutes + minutes,
        minutes if kind == EntryKind.TOPUP else before.last_topup,
        before.warn_percent,
    )
    if kind == EntryKind.DRAWDOWN and not before.low and after.low:
        transaction.on_commit(lambda: _warn_low(contract, entry, after))
    return entry


def drawdown_for(entry: TimeEntry) -> PrepaidEntry | None:
    """The ledger movement of a billable time entry, inside the caller's transaction: a drawdown
    from the prepaid contract covering its work date, or, for a reversal, the minutes given back
    to the contract the reversed entry drew from. None when no block is involved."""
    if not entry.billable:
        return None
    if entry.reverses_id is not None:
        drawn = PrepaidEntry.objects.filter(time_entry_id=entry.reverses_id).first()
        if drawn is None:
            return None
        return _append(
            _locked(drawn.contract), EntryKind.REVERSAL, -drawn.minutes, by=entry.agent, time_entry=entry
        )
    contract = active_contracts(entry.customer, entry.work_date).filter(prepaid_hours__isnull=False).first()
    if contract is None:
        return None
    return _append(_locked(contract), EntryKind.DRAWDOWN, -entry.minutes, by=entry.agent, time_entry=entry)


def _warn_low(contract: Contract, entry: PrepaidEntry, balance: Balance) -> None:
    """Tell whom the customer's notification rules name for ``prepaid_low`` (by default the
    provider admins and the customer's admins), once per crossing (the event key is the
    crossing entry's)."""
    customer = contract.customer
    hours = Decimal(balance.minutes) / 60
    shown = f"{hours:.1f} h" if balance.minutes >= 0 else f"{-hours:.1f} h over"
    message = Message(
        kind=NotificationKind.PREPAID_LOW,
        customer=customer,
        title=f"{customer.name}: prepaid hours running low ({shown} left on {contract.name})",
        body=(
            f"The prepaid balance of {contract.name} for {customer.name} is {shown}, below "
            f"{contract.warn_percent}% of the last top-up ({balance.last_topup / 60:.1f} h)."
        ),
        url=f"/customers/{customer.slug}/contracts/{contract.pk}/",
    )
    try:
        told = route(customer, RuleEvent.PREPAID_LOW, customer_roles(customer), assigned=False)
        notify_many(deliveries(told, lambda _: message, f"prepaid-low:{entry.pk}"))
    except Exception:
        logger.exception("the prepaid warning of contract %s was not delivered", contract.pk)


# --- expiry --------------------------------------------------------------------------------------


def ended_unexpired(now: datetime) -> list[Contract]:
    """Prepaid contracts whose last day is over in their customer's zone and whose block was
    not closed yet (the customer's zone decides, so the candidates are read a day wide)."""
    candidates = (
        Contract.objects.filter(prepaid_hours__isnull=False, ends_on__lt=now.date() + timedelta(days=1))
        .exclude(ledger__kind=EntryKind.EXPIRY)
        .select_related("customer")
        .order_by("ends_on", "id")
    )
    return [
        c for c in candidates if c.ends_on is not None and local_midnight_after(c.ends_on, c.customer) <= now
    ]


def expire(contract: Contract, now: datetime) -> PrepaidEntry | None:
    """Close the block of a contract that ended: at its end (local midnight), unused hours expire
    (an expiry entry of minus the balance, or zero) or, with ``rollover``, move to the
    customer's next prepaid contract (a top-up there). With rollover and no next contract yet,
    nothing happens until one exists."""
    assert contract.ends_on is not None  # noqa: S101 (ended_unexpired picks ended contracts)
    end = local_midnight_after(contract.ends_on, contract.customer)
    with transaction.atomic():
        locked = _locked(contract)
        if PrepaidEntry.objects.filter(contract=locked, kind=EntryKind.EXPIRY).exists():
            return None
        left = max(0, balance_of(locked).minutes)
        following = None
        if locked.rollover:
            following = (
                Contract.objects.filter(
                    customer=locked.customer, prepaid_hours__isnull=False, starts_on__gt=locked.ends_on
                )
                .order_by("starts_on", "id")
                .first()
            )
            if following is None:
                return None
        note = f"rolled over to {following.name}" if following else "unused hours expired"
        try:
            with transaction.atomic():
                entry = _append(locked, EntryKind.EXPIRY, -left, job=EXPIRY_JOB, at=end, note=note)
        except IntegrityError:  # another run recorded it first
            return None
        if following is not None and left:
            _append(
                _locked(following),
                EntryKind.TOPUP,
                left,
                job=EXPIRY_JOB,
                at=end,
                note=f"rolled over from {locked.name}",
            )
        return entry


def expire_due(now: datetime | None = None) -> int:
    now = now or timezone.now()
    done = 0
    for contract in ended_unexpired(now):
        if expire(contract, now) is not None:
            done += 1
    return done
