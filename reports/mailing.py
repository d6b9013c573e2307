"""Emailing issued service reports on each customer's schedule (``ReportSchedule``): on the
chosen day of a month (or later, if the job was down), in the customer's zone, the latest issued
version of the month before goes to the report contacts as a PDF, once (``emailed_at``). A month
not issued by then waits until it is."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.parsers import zone_or_utc
from reports.models import IssuedReport, ReportSchedule
from tenants.models import Customer

logger = logging.getLogger(__name__)

JOB = "reports.email_issued"
MAX_CONTACTS = 20


def schedule_of(customer: Customer) -> ReportSchedule | None:
    return ReportSchedule.objects.filter(customer=customer).first()


def schedule_set(*, customer: Customer, by: User, contacts: list[str], day: int) -> ReportSchedule:
    """Who receives the customer's issued reports and on which day (provider admins)."""
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied("Only provider admins schedule service reports.")
    errors: dict[str, list[str]] = {}
    cleaned = sorted({address.strip().lower() for address in contacts if address.strip()})
    for address in cleaned:
        try:
            validate_email(address)
        except ValidationError:
            errors.setdefault("contacts", []).append(f"{address[:80]!r} is not an email address.")
    if len(cleaned) > MAX_CONTACTS:
        errors.setdefault("contacts", []).append(f"At most {MAX_CONTACTS} contacts.")
    if not 1 <= day <= 28:
        errors["day"] = ["Give a day from 1 to 28 (every month has it)."]
    if errors:
        raise ValidationError(errors)
    schedule, _ = ReportSchedule.objects.get_or_create(
        customer=customer, defaults={"contacts": cleaned, "day": day}
    )
    if (schedule.contacts, schedule.day) != (cleaned, day):
        schedule.contacts, schedule.day = cleaned, day
        schedule.save(update_fields=["contacts", "day"])
    return schedule


def due_reports(now: datetime) -> list[IssuedReport]:
    """The latest issued version of each scheduled customer's previous month, not yet emailed,
    whose day has come in the customer's zone."""
    due = []
    for schedule in ReportSchedule.objects.exclude(contacts=[]).select_related("customer"):
        customer = schedule.customer
        local = now.astimezone(zone_or_utc(customer.timezone)).date()
        if local.day < schedule.day:
            continue
        month = (local.replace(day=1) - timedelta(days=1)).replace(day=1)
        latest = IssuedReport.objects.filter(customer=customer, month=month).order_by("-version").first()
        if latest is not None and latest.emailed_at is None:
            due.append(latest)
    return due


def email_issued(now: datetime | None = None) -> int:
    """Send what is due; each report is marked under its row lock, so two runs send it once."""
    now = now or timezone.now()
    sent = 0
    for report in due_reports(now):
        with transaction.atomic():
            locked = IssuedReport.objects.select_for_update().select_related("customer").get(pk=report.pk)
            if locked.emailed_at is not None:
                continue
            schedule = schedule_of(locked.customer)
            if schedule is None or not schedule.contacts:
                continue
            customer = locked.customer
            label = f"{locked.month:%B %Y}"
            message = EmailMessage(
                subject=f"{customer.name}: service report for {label}",
                body=(
                    f"Attached is the service report of {customer.name} for {label} "
                    f"(version {locked.version}, "
                    f"issued {locked.issued_at:%Y-%m-%d}).\n\nIts SHA-256 is {locked.sha256}.\n"
                ),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=schedule.contacts,
            )
            message.attach(
                f"{customer.slug}-{locked.month:%Y-%m}-service-report.pdf",
                bytes(locked.pdf or b""),
                "application/pdf",
            )
            message.send()
            IssuedReport.objects.filter(pk=locked.pk).update(emailed_at=now)
            sent += 1
    return sent
