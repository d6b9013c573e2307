"""Re-driving the outbox: events whose notification was never enqueued (the broker was down when
the change committed: ``tickets.events.record_event`` logs the failed publish and keeps the row)
or whose task was lost are enqueued again by beat (``tickets.redrive_events``).

An event is due once it has waited ``OUTBOX_REDRIVE_AFTER`` seconds un-notified, so the normal
enqueue after the response (and a worker's backlog of that length) is not raced; one older than
``OUTBOX_REDRIVE_WITHIN`` is left alone (a notice days late would mislead more than it tells).
Enqueuing an event twice is harmless: ``notify_event`` is idempotent per person and event (the
unique ``(user, event_key)`` of ``notifications.Notification`` and its claimed email), so a
re-driven event and a late original delivery together notify each person once.

Each run walks the active customers (one indexed query each, on the partial index of pending
events) and enqueues at most ``PER_CUSTOMER`` events of one customer and ``PER_RUN`` in all; the
next run takes the rest, starting after the last customer this one reached (kept in the platform
cache), so a few customers with many stuck events cannot keep the others waiting. A run is
skipped while the worker's queue holds more than ``QUEUE_BACKLOG`` messages: the backlog may well
be the events' own notifications, and enqueuing them again would only lengthen it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from tenants.models import Customer
from tenants.schema import customer_schema
from tickets.models import TicketEvent

logger = logging.getLogger(__name__)

PER_CUSTOMER = 200
PER_RUN = 2000
QUEUE_BACKLOG = 1000
REACHED_KEY = "outbox-redrive-reached"  # the pk of the last customer the previous run reached


def queue_length() -> int:
    """Messages waiting in the worker's queue on the broker (a Redis list of the queue's name)."""
    with redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2) as broker:
        return int(broker.llen(settings.CELERY_TASK_DEFAULT_QUEUE))


def events_redrive(*, now: datetime | None = None) -> int:
    """Enqueue ``notify_event`` again for the events due (see the module); how many."""
    from tickets.tasks import notify_event

    waiting = queue_length()
    if waiting > QUEUE_BACKLOG:
        logger.warning("outbox: re-drive skipped, %d messages are waiting in the queue", waiting)
        return 0
    now = now or timezone.now()
    newest = now - timedelta(seconds=settings.OUTBOX_REDRIVE_AFTER)
    oldest = now - timedelta(seconds=settings.OUTBOX_REDRIVE_WITHIN)
    marks = caches["platform"]
    reached = marks.get(REACHED_KEY, 0)
    customers = list(Customer.objects.active().order_by("pk"))
    after = [customer for customer in customers if customer.pk > reached]
    enqueued = 0
    for customer in after + customers[: len(customers) - len(after)]:
        reached = customer.pk
        with customer_schema(customer):
            due = list(
                TicketEvent.objects.filter(
                    notified_at__isnull=True, created_at__lt=newest, created_at__gte=oldest
                )
                .order_by("pk")
                .values_list("pk", flat=True)[: min(PER_CUSTOMER, PER_RUN - enqueued)]
            )
        for pk in due:
            notify_event.apply_async((pk,), schema=customer.schema_name)
        enqueued += len(due)
        if due:
            logger.warning("outbox: %d events of %s re-driven", len(due), customer.slug)
        if enqueued >= PER_RUN:
            break
    marks.set(REACHED_KEY, reached, timeout=None)
    return enqueued
