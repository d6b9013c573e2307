"""What every kind of import shares: the run's report (one entry per row: create, update,
unchanged or refused, with the field and the reason), who runs it, and the lookups of policies
and customers by what a CSV cell says."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model

from accounts.models import User
from core.errors import RuleViolation
from core.parsers import parse_id_or_name
from imports.models import Outcome
from sla.models import BusinessHours, SlaPolicy
from tenants.access import customers_visible_to
from tenants.models import Customer

# What a service may refuse a row with; anything else fails the whole run.
ROW_REFUSALS = (ValidationError, PermissionDenied, RuleViolation)
CHUNK = 500  # rows written per statement (and per progress step) where writes are set-based

M = TypeVar("M", bound=Model)
T = TypeVar("T")


class Refused(Exception):
    """A row that cannot be imported: the field at fault and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def refusal_of(exc: Exception) -> Refused:
    """A service's refusal as (field, message): the first field of a ValidationError."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, RuleViolation):
        return Refused(exc.field or "", exc.detail)
    if isinstance(exc, PermissionDenied):
        return Refused("", str(exc) or "Not allowed.")
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            name, messages = next(iter(exc.message_dict.items()))
            return Refused("" if name == "__all__" else name, " ".join(messages))
        return Refused("", " ".join(exc.messages))
    raise exc


class Progress(Protocol):
    def advance(self, rows: float) -> None: ...


@dataclass
class Report:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: int, outcome: str, *, field: str = "", message: str = "") -> None:
        self.entries.append({"row": row, "field": field, "message": message, "outcome": outcome})

    def refuse(self, row: int, refusal: Refused) -> None:
        self.add(row, Outcome.REFUSED, field=refusal.field, message=refusal.message)

    def count(self, outcome: str) -> int:
        return sum(1 for entry in self.entries if entry["outcome"] == outcome)

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.entries, key=lambda entry: entry["row"])


@dataclass
class Run:
    """One run of an import: who it acts for (audit, what they may see) and where it reports.

    Progress: a row counts half once it is checked (kinds that check every row before writing
    any) and whole once its outcome is known, so the count moves while a big file is checked."""

    by: User
    send_invites: bool
    report: Report
    progress: Progress
    _checked: set[int] = field(default_factory=set)

    def checked(self, row: int) -> None:
        self._checked.add(row)
        self.progress.advance(0.5)

    def _settled(self, row: int) -> None:
        self.progress.advance(0.5 if row in self._checked else 1)

    def refuse(self, row: int, refusal: Refused) -> None:
        self.report.refuse(row, refusal)
        self._settled(row)

    def done(self, row: int, outcome: str, message: str = "") -> None:
        self.report.add(row, outcome, message=message)
        self._settled(row)


def changed_fields(names: Iterable[str]) -> str:
    return ", ".join(names)


class Lookup:
    """SLA policies and business hours by id or by name, as a cell gives them (a few rows: the
    provider's configuration, read once per run)."""

    def __init__(self) -> None:
        self.policies = _by_id_and_name(SlaPolicy.objects.all())
        self.hours = _by_id_and_name(BusinessHours.objects.all())

    def policy(self, value: str, *, field: str = "sla_policy") -> SlaPolicy | None:
        return _find(self.policies, value, field=field, what="SLA policy")

    def business_hours(self, value: str, *, field: str = "business_hours") -> BusinessHours | None:
        return _find(self.hours, value, field=field, what="business hours profile")


def _by_id_and_name(rows: Iterable[M]) -> dict[int | str, M]:
    found: dict[int | str, M] = {}
    for row in rows:
        found[row.pk] = row
        found[str(getattr(row, "name", "")).casefold()] = row
    return found


def _find(rows: dict[int | str, M], value: str, *, field: str, what: str) -> M | None:
    """The row a cell names by id or name (case-insensitively), None for an empty cell."""
    try:
        wanted = parse_id_or_name(value, field=field)
    except ValidationError as exc:
        raise refusal_of(exc) from None
    if wanted is None:
        return None
    key: int | str = wanted.id if wanted.id is not None else str(wanted.name).casefold()
    row = rows.get(key)
    if row is None:
        raise Refused(field, f"No {what} '{value[:100]}' (give its name or id).")
    return row


def unknown_customer(slug: str) -> Refused:
    """The same words for a customer that does not exist and one the caller may not see."""
    return Refused("customer", f"No customer '{slug[:60]}'.")


def visible_customers(by: User, slugs: Sequence[str]) -> dict[str, Customer]:
    """The customers among ``slugs`` that ``by`` may see, by slug (one query)."""
    return {customer.slug: customer for customer in customers_visible_to(by).filter(slug__in=set(slugs))}


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


Importer = Callable[[Any, Run], None]
