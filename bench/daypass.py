"""Day-pass benchmark: the latency the pass check adds to an agent's API request.

In a throw-away database (``<name>_bench`` beside DATABASE_URL's database ``<name>``, dropped
and re-created at start, dropped at the end) it creates a provider admin, a full-time agent and an
occasional agent whose local midnight is hours away (a fixed-offset zone where it is about noon),
buys passes, and has the occasional agent's first API call consume one. It then times
``GET /api/v1/me/`` (the cheapest authenticated endpoint) through Django's WSGI handler in-process
(what gunicorn calls, without the socket: Bearer token, Host ``localhost``, DEBUG off), REQUESTS
times per case after WARMUPS, the three cases in turn within each round so that drift hits all
alike:

- full-time: needs no pass (the check only notes the day's activity, a cache ``add``): the baseline;
- occasional, warm: an active pass whose validity is in the cache (one cache ``get``);
- occasional, cold: the same pass, its cache entry deleted before each request (untimed), so the
  check reads the ledger and caches the validity again: the first request after a cache loss;
- for information, the full-time agent with the check switched off (``api_day_pass`` replaced
  by a no-op for that request): what the baseline's own activity note costs.

Each timed response must be a 200 without ``X-Day-Pass: consumed``, and the ledger must hold the
one pass afterwards. For information it also times the first call of the day of CONSUMERS other
occasional agents (each consumes a pass: an insert into the ledger, whose triggers move the pool).

Target: added p95 <= 1 ms once the pass is active (occasional warm p95 - full-time p95).

Run: ``python3 dev.py bench daypass`` (or ``make bench-daypass``). ``DAYPASS_BENCH_REQUESTS``
changes the number of timed requests per case. ``--smoke`` for tiny sizes (20 requests per case,
5 first calls: it runs, its figures mean nothing).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serviflow.settings")

from provision import in_bench_database, log, p95, print_verdict, smoke, wsgi_get  # noqa: E402

REQUESTS = int(os.environ.get("DAYPASS_BENCH_REQUESTS", "20" if smoke() else "2000"))
WARMUPS = 5 if smoke() else 100
CONSUMERS = 5 if smoke() else 100  # occasional agents whose first call of the day is timed (information)
PATH = "/api/v1/me/"
JOB = "bench.daypass"
PASSWORD = "daypass-bench-password-1"  # noqa: S105 - throw-away accounts in a throw-away database
# The bench's own cache keys (its user ids overlap the development database's), removed at the end.
CACHE_PREFIX = f"bench-daypass-{os.getpid()}"

TARGET_ADDED_P95_MS = 1.0

Handler = Callable[..., Any]


@dataclass
class Series:
    label: str
    samples: list[float]  # seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        return p95(self.samples) * 1000


def noon_zone() -> str:
    """A fixed-offset zone where it is now closest to noon, so that no pass ends mid-run."""
    now = datetime.now(UTC)

    def distance_from_noon(hours: int) -> float:
        local = now + timedelta(hours=hours)
        return abs(local.hour + local.minute / 60 - 12)

    hours = min(range(-12, 15), key=distance_from_noon)
    # POSIX-style names: Etc/GMT-5 is UTC+5.
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def api_get(handler: Handler, token: str) -> tuple[float, int, dict[str, str]]:
    """One request through Django's WSGI handler: seconds, status and headers."""
    took, code, headers, body = wsgi_get(handler, PATH, "", token)
    if code != 200:
        raise RuntimeError(f"{PATH} answered {code}: {body[:300]!r}")
    return took, code, headers


@dataclass
class Cast:
    full_time: Any
    full_time_token: str
    occasional: Any
    occasional_token: str
    consumers: list[tuple[Any, str]]


def setup_cast(zone: str) -> Cast:
    from accounts.models import Licence
    from accounts.services import AgentFields, agent_create, token_issue
    from billing.services import day_passes_buy

    def agent(email: str, **kw: Any) -> Any:
        return agent_create(
            fields=AgentFields(email=email, name=email.split("@")[0], **kw), password=PASSWORD
        )

    admin = agent("admin@msp.bench", is_admin=True)
    full_time = agent("fulltime@msp.bench", all_customers=True)
    occasional = agent("occasional@msp.bench", licence=Licence.OCCASIONAL, timezone=zone)
    consumers = [
        agent(f"first-call-{n:03d}@msp.bench", licence=Licence.OCCASIONAL, timezone=zone)
        for n in range(CONSUMERS)
    ]
    day_passes_buy(by=admin, quantity=CONSUMERS + 10)

    def token(user: Any) -> str:
        return str(token_issue(user=user, name="bench")[1])

    return Cast(
        full_time,
        token(full_time),
        occasional,
        token(occasional),
        [(user, token(user)) for user in consumers],
    )


def time_cases(handler: Handler, cast: Cast) -> list[Series]:
    """WARMUPS untimed rounds, then REQUESTS timed ones; the cases in turn, each round starting
    with the next case."""
    from django.core.cache import caches

    from billing import services

    platform = caches[services.CACHE]
    forget = services.validity_cache_key(cast.occasional)  # what a cache loss takes away

    def full_time() -> tuple[float, int, dict[str, str]]:
        return api_get(handler, cast.full_time_token)

    def warm() -> tuple[float, int, dict[str, str]]:
        return api_get(handler, cast.occasional_token)

    def cold() -> tuple[float, int, dict[str, str]]:
        platform.delete(forget)
        return api_get(handler, cast.occasional_token)

    def no_check() -> tuple[float, int, dict[str, str]]:
        with mock.patch("serviflow.api.views.api_call_checks", return_value={}):
            return api_get(handler, cast.full_time_token)

    cases = [
        ("full-time (no pass needed)", full_time),
        ("occasional, warm", warm),
        ("occasional, cold", cold),
        ("full-time, check switched off (information)", no_check),
    ]
    series = [Series(label, []) for label, _ in cases]
    for round_ in range(WARMUPS + REQUESTS):
        for k in range(len(cases)):
            index = (round_ + k) % len(cases)
            took, _, headers = cases[index][1]()
            if headers.get("X-Day-Pass") == "consumed":
                raise RuntimeError(f"{cases[index][0]}: a timed request consumed a pass")
            if round_ >= WARMUPS:
                series[index].samples.append(took)
    return series


def time_first_calls(handler: Handler, cast: Cast) -> Series:
    """For information: the first call of the day of each consumer (it consumes their pass)."""
    samples = []
    for _, token in cast.consumers:
        took, _, headers = api_get(handler, token)
        if headers.get("X-Day-Pass") != "consumed":
            raise RuntimeError("a first call of the day did not consume a pass")
        samples.append(took)
    return Series("occasional, first call of the day (consumes)", samples)


def report(series: list[Series], first_calls: Series, zone: str, passes: int) -> None:
    baseline, warm, cold, _ = series
    log("")
    log(f"GET {PATH} through Django's WSGI handler in-process (DEBUG off), {REQUESTS:,} timed requests")
    log(f"per case after {WARMUPS} warm-ups, cases in turn; occasional agents' zone {zone}; ms per request.")
    header = f"{'case':<46} {'median':>7} {'p95':>7} {'added med':>10} {'added p95':>10}"
    log(header)
    log("-" * len(header))
    for one in (*series, first_calls):
        if one is baseline:
            added = f"{'':>10} {'':>10}"
        else:
            added = f"{one.median_ms - baseline.median_ms:>+10.3f} {one.p95_ms - baseline.p95_ms:>+10.3f}"
        log(f"{one.label:<46} {one.median_ms:>7.3f} {one.p95_ms:>7.3f} {added}".rstrip())
    log(f"added: the case minus the full-time baseline; first calls: {len(first_calls.samples)} agents.")
    added_p95 = warm.p95_ms - baseline.p95_ms
    checks = [
        (
            "no timed request consumed a pass; the occasional agent holds exactly one",
            passes == 1,
            f"{passes} pass",
        ),
        (
            f"added p95 <= {TARGET_ADDED_P95_MS:g} ms once the pass is active (warm - full-time)",
            added_p95 <= TARGET_ADDED_P95_MS,
            f"{added_p95:+.3f} ms; cold {cold.p95_ms - baseline.p95_ms:+.3f} ms",
        ),
    ]
    print_verdict(checks)


def run(_database_url: str) -> None:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.test.utils import override_settings

    from audit.context import job_context
    from billing.models import DayPassConsumption

    log("==> sync_platform (public schema, template, tenants)")
    call_command("sync_platform", verbosity=0)
    settings.DEBUG = False  # no query logging in the measured requests
    zone = noon_zone()
    # A fast hasher for the throw-away accounts: nothing measured checks a password.
    fast_hasher = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    try:
        with job_context(JOB), fast_hasher:
            cast = setup_cast(zone)
        handler = WSGIHandler()
        _, _, headers = api_get(handler, cast.occasional_token)
        log(f"==> the occasional agent's first call (fresh process): pass {headers.get('X-Day-Pass')}")
        started = time.perf_counter()
        series = time_cases(handler, cast)
        first_calls = time_first_calls(handler, cast)
        log(f"==> timed in {time.perf_counter() - started:.0f} s")
        passes = DayPassConsumption.objects.filter(agent=cast.occasional).count()
        report(series, first_calls, zone, passes)
    finally:
        forget_cache_keys()


def forget_cache_keys() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{CACHE_PREFIX}*"))
    if keys:
        client.delete(*keys)


def main() -> int:
    return in_bench_database(run, env={"CACHE_KEY_PREFIX": CACHE_PREFIX})


if __name__ == "__main__":
    sys.exit(main())
