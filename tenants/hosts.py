"""Host name → customer, cached briefly in the process (performance.md: the tenant lookup is a
round trip on every request otherwise).

Only hits are cached, for ``TENANT_HOST_CACHE_SECONDS`` (default 30; 0 turns it off), and each
request gets its own copy of the cached row. Changes made in this process (archive, restore,
edit) clear the cache at once; other processes see them within the TTL.
"""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings

from tenants.models import Customer, Domain

_lock = threading.Lock()
_cache: dict[str, tuple[float, Customer]] = {}


def customer_for_host(hostname: str) -> Customer:
    """The tenant row behind ``hostname``; raises ``Domain.DoesNotExist`` for unknown hosts."""
    ttl = settings.TENANT_HOST_CACHE_SECONDS
    now = time.monotonic()
    hit = _cache.get(hostname)
    if hit is not None and hit[0] > now:
        return copy.copy(hit[1])
    tenant: Customer = Domain.objects.select_related("tenant").get(domain=hostname).tenant
    if ttl:
        with _lock:
            _cache[hostname] = (now + ttl, copy.copy(tenant))
    return tenant


def forget_hosts() -> None:
    with _lock:
        _cache.clear()
