"""Issuing a service report freezes the month (``spec/reports.md``): the report, its CSV and
its PDF are stored as they are now (``IssuedReport``), and the SHA-256 of the report's canonical
JSON goes into the customer's audit chain (the version's audit entry carries it). A later request
for that month returns the stored bytes, whatever changed since. Issuing again makes the next
version, with the differences from the one before listed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from core.links import console_link, portal_link
from notifications.models import NotificationKind, RuleEvent
from notifications.rules import customer_roles, deliveries, route
from notifications.services import Message, notify_many
from reports.files import report_csv, report_pdf
from reports.models import IssuedReport
from reports.service import service_report
from tenants.models import Customer
from tenants.replica import primary_reads
from tenants.schema import customer_schema

logger = logging.getLogger(__name__)


def canonical(report: dict[str, Any]) -> bytes:
    """The report's bytes: JSON with sorted keys and no spaces, UTF-8 (what the hash covers)."""
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(value, list):
        found = {}
        for n, item in enumerate(value):
            found |= flatten(item, f"{prefix}[{n}]")
        return found
    return {prefix: value}


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions, figure by figure: ``{"path", "before", "after"}``."""
    old, new = flatten(before), flatten(after)
    return [
        {"path": path, "before": old.get(path), "after": new.get(path)}
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path) and path != "issued"
    ]


def issued_latest(customer: Customer, month: date) -> IssuedReport | None:
    return issued_version(customer, month, None)


def issued_version(customer: Customer, month: date, version: int | None) -> IssuedReport | None:
    """The issued ``version`` of the month (None: the latest), or None."""
    issued = IssuedReport.objects.filter(customer=customer, month=month)
    return issued.filter(version=version).first() if version else issued.order_by("-version").first()


@primary_reads()
def report_issue(*, customer: Customer, month: date, by: User) -> IssuedReport:
    """Freeze ``month`` of ``customer`` as the next version (provider admins). The version's row
    is written inside the customer's schema, so its audit entry (with the SHA-256) is sealed
    into that customer's chain. Everything reads the primary, even inside ``replica_reads()``:
    the figures are frozen for good, and a replica up to ``REPLICA_MAX_LAG_SECONDS`` behind
    could freeze numbers already corrected."""
    if not (by.is_active and by.is_provider_admin):
        raise PermissionDenied("Only provider admins issue service reports.")
    report = service_report(customer, month)
    now = timezone.now()
    with transaction.atomic(), customer_schema(customer):
        # One issuer at a time per customer: the customer's row orders them.
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        latest = issued_latest(customer, month)
        version = (
            IssuedReport.objects.filter(customer=customer, month=month).aggregate(v=Max("version"))["v"] or 0
        ) + 1
        report["issued"] = {
            "version": version,
            "issued_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "by": by.name,
        }
        content = canonical(report)
        changed = differences(json.loads(bytes(latest.content)), report) if latest is not None else []
        issued = IssuedReport.objects.create(
            customer=customer,
            month=month,
            version=version,
            content=content,
            csv=report_csv(report),
            pdf=report_pdf(report),
            sha256=hashlib.sha256(content).hexdigest(),
            differences=changed,
            issued_by=by,
            issued_at=now,
        )
        transaction.on_commit(lambda: issued_notify(customer, issued, by))
        return issued


def issued_notify(customer: Customer, issued: IssuedReport, by: User) -> None:
    """Tell whom the customer's notification rules name for ``report_issued`` (by default the
    customer's admins), once per version; the issuer is not told of their own act. A failure is
    logged: the report is issued whatever happens to its notice."""
    month = f"{issued.month:%Y-%m}"
    title = f"{customer.name}: service report for {month} issued (version {issued.version})"

    def message_for(user: User) -> Message:
        if user.may_use_console:
            url = f"{console_link('console-service-report', slug=customer.slug)}?month={month}"
        else:
            url = portal_link(customer.portal_host, "portal-report", month=month)
        return Message(
            kind=NotificationKind.REPORT_ISSUED,
            customer=customer,
            title=title[:300],
            body=f"Version {issued.version} of the service report for {month} was issued by {by.name}.",
            url=url,
        )

    try:
        told = route(
            customer, RuleEvent.REPORT_ISSUED, customer_roles(customer), assigned=False, left_out={by.pk}
        )
        notify_many(deliveries(told, message_for, f"report-issued:{customer.pk}:{issued.pk}"))
    except Exception:
        logger.exception("the notice of report %s of %s was not delivered", issued.pk, customer.slug)
