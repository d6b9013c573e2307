"""Time entries (``spec/reports.md``): logged on a ticket, never edited, corrected by reversing
entries, refused in a closed month (409 ``month_closed``), and drawing billable minutes from the
prepaid block of the contract covering their work date (``contracts.services.drawdown_for``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from contracts.models import ClosedMonth, TimeEntry
from contracts.services import drawdown_for, local_today
from core.errors import RuleViolation
from tenants.models import Customer

MAX_MINUTES = 24 * 60
MAX_NOTE = 500
# How far ahead of the customer's today a work date may be (an agent ahead of the customer's zone).
AHEAD = timedelta(days=1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def closed_months(customer: Customer) -> QuerySet[ClosedMonth]:
    return ClosedMonth.objects.filter(customer=customer)


def is_closed(customer: Customer, day: date) -> bool:
    return closed_months(customer).filter(month=month_of(day)).exists()


def month_closed_error(day: date) -> RuleViolation:
    return RuleViolation(
        "month_closed",
        f"{day:%Y-%m} is closed for time entries: date the entry in an open month.",
        field="work_date",
        status=409,
    )


def first_open_day(customer: Customer, day: date) -> date:
    """``day`` if its month is open, else the 1st of the next open month after it."""
    closed = set(closed_months(customer).filter(month__gte=month_of(day)).values_list("month", flat=True))
    month = month_of(day)
    if month not in closed:
        return day
    while month in closed:
        month = next_month(month)
    return month


def entries_of_ticket(customer: Customer, ticket_id: int) -> QuerySet[TimeEntry]:
    return (
        TimeEntry.objects.filter(customer=customer, ticket_id=ticket_id)
        .select_related("agent")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class TimeInput:
    minutes: int | None = None
    work_date: date | None = None
    billable: bool | None = None
    note: str = ""
    reverses: int | None = None


def time_log(*, customer: Customer, ticket_id: int, by: User, data: TimeInput, agent: bool) -> TimeEntry:
    """Log time on a ticket the caller works (``agent``: the caller may work the customer's
    tickets; the caller already found the ticket). A reversal (``reverses``) negates an entry of
    the same ticket once; left undated it is dated on the original's date, or, if that month is
    closed, on the 1st of the next open month."""
    if not agent:
        raise PermissionDenied("Only agents log time.")
    errors: dict[str, list[str]] = {}
    if len(data.note) > MAX_NOTE:
        errors["note"] = [f"At most {MAX_NOTE} characters."]
    today = local_today(customer)
    if data.work_date is not None and data.work_date > today + AHEAD:
        errors["work_date"] = [f"Work cannot be dated in the future (the customer's today is {today})."]
    with transaction.atomic():
        original = None
        if data.reverses is not None:
            original = (
                TimeEntry.objects.select_for_update()
                .filter(customer=customer, ticket_id=ticket_id, pk=data.reverses)
                .first()
            )
            if original is None:
                errors["reverses"] = ["No time entry with this id on this ticket."]
            elif original.reverses_id is not None:
                errors["reverses"] = ["This entry is itself a correction; it cannot be reversed."]
            elif data.minutes is not None and data.minutes != original.minutes:
                errors["minutes"] = [f"A reversal takes back the whole entry: {original.minutes} minutes."]
        elif data.minutes is None:
            errors["minutes"] = ["Give the minutes worked."]
        elif not 1 <= data.minutes <= MAX_MINUTES:
            errors["minutes"] = [f"Give from 1 to {MAX_MINUTES} minutes per entry."]
        if data.work_date is None and original is None:
            errors["work_date"] = ["Give the date the work was done."]
        if errors:
            raise ValidationError(errors)
        if original is not None:
            if TimeEntry.objects.filter(reverses=original).exists():
                raise RuleViolation(
                    "already_reversed", "This entry was reversed already.", field="reverses", status=409
                )
            work_date = data.work_date or first_open_day(customer, original.work_date)
            values = {"minutes": -original.minutes, "billable": original.billable}
        else:
            assert data.work_date is not None and data.minutes is not None  # noqa: S101 (checked above)
            work_date = data.work_date
            values = {"minutes": data.minutes, "billable": True if data.billable is None else data.billable}
        if is_closed(customer, work_date):
            raise month_closed_error(work_date)
        try:
            with transaction.atomic():  # a OneToOne: one reversal of an entry, ever
                entry = TimeEntry.objects.create(
                    customer=customer,
                    ticket_id=ticket_id,
                    agent=by,
                    work_date=work_date,
                    note=data.note.strip(),
                    reverses=original,
                    created_at=timezone.now(),
                    **values,
                )
        except IntegrityError:
            if original is None:
                raise
            raise RuleViolation(
                "already_reversed", "This entry was reversed already.", field="reverses", status=409
            ) from None
        drawdown_for(entry)
    return entry


def month_close(*, customer: Customer, month: date, by: User) -> ClosedMonth:
    """Close ``month`` for time entries (provider admins); closing it twice is a 409."""
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied("Only provider admins close months.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                return ClosedMonth.objects.create(
                    customer=customer, month=month, closed_by=by, closed_at=timezone.now()
                )
        except IntegrityError:
            raise RuleViolation("month_closed", f"{month:%Y-%m} is closed already.", status=409) from None


def minutes_by_ticket(customer: Customer, ticket_ids: list[int]) -> dict[int, int]:
    """The time logged on each of ``ticket_ids`` (reversals deducted), in one query."""
    rows = (
        TimeEntry.objects.filter(customer=customer, ticket_id__in=ticket_ids)
        .values("ticket_id")
        .annotate(total=Sum("minutes"))
    )
    return {row["ticket_id"]: int(row["total"]) for row in rows}
