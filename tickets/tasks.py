"""The tickets' worker tasks: notifications from the outbox after commit, the outbox's re-drive
(beat, every OUTBOX_REDRIVE_SECONDS) and the SLA sweep (beat, every SLA_SWEEP_SECONDS)."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.utils import timezone

from audit.jobs import JobTask
from notifications.services import notify_many
from tenants.jobs import TenantTask
from tenants.models import Customer
from tenants.schema import tenant_connection
from tickets.models import TicketEvent
from tickets.notices import event_deliveries, screened
from tickets.outbox import events_redrive
from tickets.sla.sweep import sla_sweep


# ignore_result: nobody waits for it, and a stored result costs the enqueuing request a round trip.
@shared_task(base=TenantTask, name="tickets.notify_event", ignore_result=True)
def notify_event(event_id: int) -> int:
    """Runs inside the ticket's customer schema; the customer's notification rules choose who
    is told, and how. Idempotent: a notification is unique per person and event, so a
    redelivered message sends nothing twice. Returns how many people were notified."""
    event = (
        TicketEvent.objects.select_related("ticket__requester_user", "ticket__assignee", "actor", "comment")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    customer: Customer = tenant_connection.tenant
    sent = notify_many(screened(event_deliveries(event, customer)))
    TicketEvent.objects.filter(pk=event.pk, notified_at__isnull=True).update(notified_at=timezone.now())
    return sent


@shared_task(base=JobTask, name="sla.sweep")
def sweep() -> dict[str, int | bool]:
    """Record due warnings and breaches and notify; safe to run twice or after a crash."""
    return asdict(sla_sweep())


@shared_task(base=JobTask, name="tickets.redrive_events")
def redrive_events() -> int:
    """Enqueue again the events left un-notified (a broker outage at commit, a lost task);
    returns how many (``tickets.outbox``)."""
    return events_redrive()
