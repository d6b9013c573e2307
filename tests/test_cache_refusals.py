"""The cache treats Redis refusing writes as an outage, and replays the deletes it skipped.

A Valkey of the test's own is made to refuse writes the way a production Redis does (turned into
a read-only replica, or out of memory) and then to accept them again. A delete skipped meanwhile
(an automation rule set's invalidation, ``automations.engine.rules_forget``) must not be lost:
the key would otherwise be served for its whole timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.exceptions import ResponseError

from serviflow import cache as resilient
from tests.support import processes
from tests.test_redis_outage import Redis, redis_server  # noqa: F401 (a fixture)


def _read_only(raw: redis.Redis) -> Callable[[], object]:
    raw.replicaof("127.0.0.1", processes.free_port())  # a primary never reached
    return lambda: raw.replicaof("NO", "ONE")


def _out_of_memory(raw: redis.Redis) -> Callable[[], object]:
    raw.config_set("maxmemory", "1")
    return lambda: raw.config_set("maxmemory", "0")


@pytest.mark.parametrize("refuse", [_read_only, _out_of_memory], ids=["read-only", "out-of-memory"])
def test_a_delete_skipped_while_redis_refuses_is_replayed_once_it_accepts(
    redis_server: Redis,  # noqa: F811
    monkeypatch: Any,
    refuse: Callable[[redis.Redis], Callable[[], object]],
) -> None:
    monkeypatch.setattr(resilient, "RETRY_AFTER", 0.2)
    location = f"redis://127.0.0.1:{redis_server.port}/0"
    cache = resilient.ResilientRedisCache(location, {"KEY_PREFIX": "refusals"})
    raw = redis.Redis(port=redis_server.port)
    cache.set("rules", ["a rule"])
    cache.set("other", 1)

    accept = refuse(raw)
    cache.set("trigger", 2)  # refused: the breaker opens instead of raising
    cache.delete("rules")  # skipped while the breaker is open
    assert cache.get("other") is None  # reads miss meanwhile
    assert raw.exists(cache.make_key("rules")) == 1

    accept()
    processes.wait_for(cache._breaker.closed, timeout=10)
    assert cache.get("rules") is None  # the delete was replayed before this read
    assert raw.exists(cache.make_key("rules")) == 0
    assert cache.get("other") == 1


def test_misconf_counts_as_refusing_writes_and_other_errors_do_not() -> None:
    assert resilient._refuses(ResponseError("MISCONF Errors writing to the AOF file"))
    assert not resilient._refuses(ResponseError("WRONGTYPE Operation against a key"))
