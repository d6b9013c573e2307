"""Celery beat that sends the periodic tasks only while it holds a lock in Redis.

A second beat (a scaled service, a restarted container whose old copy still runs) would send every
periodic task twice. Every beat therefore ticks as usual, but only the one holding the lock (a Redis
key set with NX and a time to live of ``BEAT_LOCK_SECONDS``) sends; the others stand by and take the
lock over once its holder stops renewing it (killed, stuck, cut off from Redis). The lock lives on
the broker's Redis: a beat that cannot reach it could not send anything either.

The holder also writes when each job last ran to Redis, and a beat taking over reads it, so a
takeover neither repeats a job the old holder just sent nor skips one.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime
from typing import Any, cast

import redis
from celery.beat import PersistentScheduler, ScheduleEntry
from django.conf import settings

logger = logging.getLogger(__name__)

# One round trip per tick: this beat says it is alive, then renews the lock if it is its own or
# takes it if nobody holds it; someone else's lock is never touched. Answers the state (1: renewed,
# 2: taken, 0: held by another beat) and the holder.
_HOLD = """
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, holder}
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return {2, ARGV[1]}
end
return {0, holder}
"""

# Deletes the lock only if it is still this beat's (it may have expired and been taken over).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _keys() -> tuple[str, str, str]:
    """The lock, the last-run times and the prefix of the alive keys: one set per queue, so two
    installations sharing a Redis database each run their own beat."""
    base = f"serviflow:beat:{settings.CELERY_TASK_DEFAULT_QUEUE}"
    return f"{base}:lock", f"{base}:last-run", f"{base}:alive:"


def _client() -> redis.Redis:
    # Short timeouts: an unreachable Redis must not hang the tick (nor a health check) for long.
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )


class BeatLock:
    """The lock one beat process competes for; ``token`` names the holder (host, pid)."""

    def __init__(self) -> None:
        self.ttl = settings.BEAT_LOCK_SECONDS
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.key, self.last_run_key, alive_prefix = _keys()
        self.alive_key = alive_prefix + socket.gethostname()
        self.client = _client()
        self._hold = self.client.register_script(_HOLD)
        self._release = self.client.register_script(_RELEASE)

    def hold(self) -> tuple[int, str]:
        """(1, this token) renewed, (2, this token) just taken, (0, holder) another beat holds it;
        raises RedisError."""
        state, holder = self._hold(keys=[self.key, self.alive_key], args=[self.token, self.ttl * 1000])
        return int(state), str(holder)

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])
        self.client.delete(self.alive_key)


class LockedScheduler(PersistentScheduler):
    """The default scheduler (schedule file for last run times), sending only under the lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = BeatLock()
        self.holding: bool | None = None  # None until the first tick, so standing by is logged once
        # Ticks come at least this often, so the lock is renewed three times per time to live.
        self.tick_every = self.lock.ttl / 3
        super().__init__(*args, **{**kwargs, "max_interval": self.tick_every})

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._still_holding():
            return self.tick_every
        return super().tick(*args, **kwargs)

    def _still_holding(self) -> bool:
        try:
            state, holder = self.lock.hold()
        except redis.RedisError as exc:
            if self.holding is not False:
                logger.warning("beat: Redis unreachable, sending nothing until it is back: %s", exc)
            self.holding = False
            return False
        if state == 0:
            if self.holding:
                logger.warning("beat: lost the lock to %s; standing by", holder)
            elif self.holding is None:
                logger.info("beat: %s holds the lock; standing by", holder)
            self.holding = False
            return False
        if not self.holding:
            logger.info("beat: this beat (%s) sends the periodic tasks now", self.lock.token)
            self._adopt_last_runs()
            self.holding = True
        return True

    def _adopt_last_runs(self) -> None:
        """Each job's last run as the previous holder recorded it, where newer than this beat's."""
        try:
            shared = self.lock.client.hgetall(self.lock.last_run_key)
        except redis.RedisError:
            shared = {}
        for name, recorded in shared.items():
            entry = self.schedule.get(str(name))
            if entry is None:
                continue
            when = datetime.fromisoformat(str(recorded))
            if entry.last_run_at is None or when > entry.last_run_at:
                entry.last_run_at = when
        self._heap = None  # rebuilt from the adopted times on the next tick

    def reserve(self, entry: ScheduleEntry) -> Any:
        new_entry = cast(ScheduleEntry, super().reserve(entry))  # the stubs say event_t
        when = new_entry.last_run_at or self.app.now()  # reserve() sets it to now
        try:
            self.lock.client.hset(self.lock.last_run_key, str(entry.name), when.isoformat())
        except redis.RedisError:
            logger.warning("beat: could not record the last run of %s", entry.name)
        return new_entry

    def close(self) -> None:
        """Hands the lock back at once (called on shutdown, possibly twice), so a standby beat takes
        over without waiting for it to expire."""
        try:
            self.lock.release()
        except redis.RedisError:
            logger.warning("beat: could not release the lock; it expires in %s s", self.lock.ttl)
        self.holding = False
        super().close()


def beat_status(hostname: str | None = None) -> tuple[str | None, bool]:
    """Who holds the lock (None: nobody) and whether a beat on ``hostname`` (this host) ticked
    within the lock's time to live; raises RedisError."""
    lock_key, _, alive_prefix = _keys()
    client = _client()
    holder = client.get(lock_key)
    alive = bool(client.exists(alive_prefix + (hostname or socket.gethostname())))
    return (str(holder) if holder is not None else None), alive
