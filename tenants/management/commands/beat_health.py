"""``manage.py beat_health``: the beat container's health check. Healthy (exit 0) when a beat on
this host ticked within ``BEAT_LOCK_SECONDS`` and some beat holds the lock (this one, or another
while this one stands by); exit 1 otherwise, Redis unreachable included."""

from __future__ import annotations

from typing import Any

import redis
from django.core.management.base import BaseCommand, CommandError

from serviflow.beat import beat_status


class Command(BaseCommand):
    help = "Exit 0 if this host's Celery beat is ticking and some beat holds the beat lock."
    requires_system_checks: list[str] = []  # a probe every 30 s: only Redis is asked

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            holder, alive = beat_status()
        except redis.RedisError as exc:
            raise CommandError(f"Redis unreachable: {exc}") from exc
        if not alive:
            raise CommandError("no beat on this host ticked recently")
        if holder is None:
            raise CommandError("no beat holds the lock")
        self.stdout.write(f"ok: the lock is held by {holder}")
