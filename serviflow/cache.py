"""The cache backend: Django's Redis cache that lets every page answer while Redis is down.

Redis is the broker and the cache. Nothing the cache holds is the only copy of anything (host
lookups, day-pass validity, automation rules, sign-in failure counts are all read again or
started afresh), so an unreachable Redis is treated as an empty cache that keeps nothing: a
read is a miss, a write does nothing, ``add`` answers True as for an absent key (the caller does
its once-per-key work, which must be idempotent in the database, as ``billing.activity_note``'s
insert is: never use the cache to exclude concurrent work). Sign-in throttling therefore fails
open while Redis is down: failures are neither counted nor checked (logged once per outage).

Each call waits at most the sockets' short timeouts (settings ``CACHES`` ``OPTIONS``), and after
a failure the backend does not try Redis again for ``RETRY_AFTER`` seconds (a circuit breaker,
per process and server), so during an outage a request pays no timeout at all on most calls.
An outage is logged when it starts and when Redis answers again, not on every call. Redis
refusing writes (read-only, out of memory, MISCONF) counts as an outage. A delete skipped during
an outage is remembered (per process, at most ``PENDING_DELETES_MAX`` keys) and replayed before
the first call once Redis answers, so an invalidation is never lost while this process lives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds without trying Redis after a failure
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)  # BusyLoadingError (starting up) is one
# Deletes skipped during an outage, remembered per process and server to replay once it answers.
PENDING_DELETES_MAX = 10_000

T = TypeVar("T")


def _refuses(error: ResponseError) -> bool:
    """Redis answering but refusing writes (a replica, maxmemory, a failed snapshot with
    stop-writes-on-bgsave-error) is an outage to the cache too: a write would fail each call."""
    return isinstance(error, ReadOnlyError | OutOfMemoryError) or str(error).startswith("MISCONF")


class _Breaker:
    """One server's state in this process: since when it failed, and until when to skip it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.skip_until = 0.0
        self.pending_deletes: set[str] = set()  # full keys

    def closed(self) -> bool:
        return time.monotonic() >= self.skip_until

    def failed(self, location: str, error: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            self.skip_until = now + RETRY_AFTER
            if self.down_since is not None:
                return
            self.down_since = now
        logger.warning(
            "cache: Redis at %s unreachable (%s); reads miss and writes are skipped until it answers "
            "(sign-in throttling is off meanwhile)",
            location,
            error,
        )

    def remember_deletes(self, location: str, keys: Sequence[str]) -> None:
        """A key whose delete was skipped would be served stale until it expires (the automation
        rules for an hour), so the delete is replayed when Redis answers again."""
        with self.lock:
            room = PENDING_DELETES_MAX - len(self.pending_deletes)
            self.pending_deletes.update(keys[: max(room, 0)])
        if len(keys) > room:
            logger.error(
                "cache: more than %s deletes skipped while Redis at %s is down; %s will not be replayed",
                PENDING_DELETES_MAX,
                location,
                len(keys) - max(room, 0),
            )

    def take_deletes(self) -> list[str]:
        with self.lock:
            keys, self.pending_deletes = list(self.pending_deletes), set()
        return keys

    def answered(self, location: str) -> None:
        if self.down_since is None:
            return
        with self.lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            logger.warning(
                "cache: Redis at %s answers again after %.0f s", location, time.monotonic() - since
            )


_breakers: dict[str, _Breaker] = {}
_breakers_lock = threading.Lock()


def _breaker(location: str) -> _Breaker:
    with _breakers_lock:
        return _breakers.setdefault(location, _Breaker())


class ResilientRedisCache(RedisCache):
    """``RedisCache`` whose calls answer as an empty cache while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._location = server if isinstance(server, str) else ",".join(server)
        self._breaker = _breaker(self._location)

    def _guarded(self, call: Callable[[], T], fallback: T, *, deleting: Sequence[str] = ()) -> T:
        if not self._breaker.closed():
            self._breaker.remember_deletes(self._location, deleting)
            return fallback
        try:
            self._replay_deletes()  # first, so that no read after an outage sees a deleted key
            result = call()
        except (*UNREACHABLE, ResponseError) as error:
            if isinstance(error, ResponseError) and not _refuses(error):
                raise
            self._breaker.remember_deletes(self._location, deleting)
            self._breaker.failed(self._location, error)
            return fallback
        self._breaker.answered(self._location)
        return result

    def _replay_deletes(self) -> None:
        keys = self._breaker.take_deletes()
        if not keys:
            return
        try:
            self._cache.delete_many(keys)  # type: ignore[attr-defined]  # the keys are made already
        except Exception:
            self._breaker.remember_deletes(self._location, keys)
            raise
        logger.warning(
            "cache: replayed %s deletes skipped while Redis at %s was down", len(keys), self._location
        )

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(partial(super().add, key, value, timeout, version), True)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(partial(super().get, key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        self._guarded(partial(super().set, key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(partial(super().touch, key, timeout, version), False)

    def delete(self, key: Any, version: Any = None) -> bool:
        full = [self.make_and_validate_key(key, version=version)]
        return self._guarded(partial(super().delete, key, version), False, deleting=full)

    def get_many(self, keys: Any, version: Any = None) -> dict[str, Any]:
        return self._guarded(partial(super().get_many, keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guarded(partial(super().has_key, key, version), False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        return self._guarded(partial(super().incr, key, delta, version), delta)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[str]:
        return self._guarded(partial(super().set_many, data, timeout, version), [])

    def delete_many(self, keys: Any, version: Any = None) -> None:
        keys = list(keys)
        full = [self.make_and_validate_key(key, version=version) for key in keys]
        self._guarded(partial(super().delete_many, keys, version), None, deleting=full)

    def clear(self) -> None:
        self._guarded(super().clear, None)
