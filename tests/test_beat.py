"""Beat runs once: every beat competes for a lock in Redis (serviflow.beat) and only its holder sends
the periodic tasks.

The lock itself is tried against the real Redis in this process; the last test runs two real beat
processes on a queue of their own that no worker reads, so every message either beat sent stays in
the queue and names its sender (the ``origin`` header: ``gen<pid>@host``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from serviflow.beat import BeatLock, LockedScheduler
from serviflow.celery import app
from tests.conftest import ARTIFACTS
from tests.support import processes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def beat_queue(settings: Any) -> Iterator[str]:
    """A queue (and so a lock) of this test's own; its keys are removed afterwards."""
    queue = f"beat-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    yield queue
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(queue, *client.keys(f"serviflow:beat:{queue}:*"))


def test_one_lock_holder_at_a_time_and_only_it_renews_or_releases(beat_queue: str) -> None:
    first, second = BeatLock(), BeatLock()
    assert first.hold() == (2, first.token)
    assert second.hold() == (0, first.token)
    assert first.hold() == (1, first.token)
    second.release()  # not its lock: nothing happens
    assert second.hold() == (0, first.token)
    first.release()
    assert second.hold() == (2, second.token)


def test_a_lost_lock_makes_beat_stand_by_without_touching_the_new_holder(
    beat_queue: str, tmp_path: Path
) -> None:
    scheduler = LockedScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    try:
        scheduler.tick()
        assert scheduler.holding is True
        # The lock expired while this beat was stuck, and another beat took it.
        scheduler.lock.client.set(scheduler.lock.key, "other-beat", px=60_000)
        assert scheduler.tick() == scheduler.tick_every
        assert scheduler.holding is False
        assert scheduler.lock.client.get(scheduler.lock.key) == "other-beat"
        assert scheduler.lock.client.pttl(scheduler.lock.key) <= 60_000
        scheduler.lock.client.delete(scheduler.lock.key)  # the other beat went away
        scheduler.tick()
        assert scheduler.holding is True
    finally:
        scheduler.close()
    assert scheduler.lock.client.get(scheduler.lock.key) is None  # handed back on shutdown


def test_a_beat_taking_over_goes_on_from_the_previous_holders_last_runs(
    beat_queue: str, tmp_path: Path
) -> None:
    """So a standby whose own schedule is older neither repeats a job nor skips one."""
    first = LockedScheduler(app, schedule_filename=str(tmp_path / "first"))
    second = LockedScheduler(app, schedule_filename=str(tmp_path / "second"))
    try:
        first.tick()
        second.tick()
        assert first.holding is True and second.holding is False
        first.reserve(first.schedule["audit-publish-heads"])  # as when it sends the job
        sent_at = first.schedule["audit-publish-heads"].last_run_at
        stale = second.schedule["audit-publish-heads"].last_run_at
        assert sent_at is not None and stale is not None and sent_at > stale
    finally:
        first.close()
    try:
        second.tick()
        assert second.holding is True
        assert second.schedule["audit-publish-heads"].last_run_at == sent_at
    finally:
        second.close()


def test_without_redis_beat_sends_nothing_and_keeps_ticking(
    beat_queue: str, tmp_path: Path, settings: Any
) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    scheduler = LockedScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    assert scheduler.tick() == scheduler.tick_every
    assert scheduler.holding is False
    scheduler.close()


def _sweeps_sent(client: redis.Redis, queue: str) -> list[int]:
    """The pid of the beat that sent each ``sla.sweep`` waiting in ``queue``, oldest first."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    return [
        int(message["headers"]["origin"].split("@")[0].removeprefix("gen"))
        for message in messages
        if message["headers"]["task"] == "sla.sweep"
    ]


def _beat_health(env: dict[str, str]) -> int:
    command = [sys.executable, "manage.py", "beat_health"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode


@pytest.mark.worker
def test_two_beats_send_each_job_once_and_the_standby_takes_over(beat_queue: str, tmp_path: Path) -> None:
    """Two beats with a 1-second SLA sweep: the sweeps come from one of them only, at one beat's
    rate; once it is killed (SIGKILL: no release), the other one sends them."""
    env = processes.process_env(CELERY_QUEUE=beat_queue, SLA_SWEEP_SECONDS="1", BEAT_LOCK_SECONDS="3")
    client = redis.Redis.from_url(settings.REDIS_URL)
    ARTIFACTS.mkdir(exist_ok=True)
    beats = [
        processes.start_beat(env, ARTIFACTS / f"beat-{n}.log", tmp_path / f"schedule-{n}") for n in (1, 2)
    ]
    try:
        started = time.monotonic()
        processes.wait_for(lambda: len(_sweeps_sent(client, beat_queue)) >= 8)
        assert _beat_health(env) == 0
        holder = next(beat for beat in beats if beat.pid == _sweeps_sent(client, beat_queue)[0])
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        sent_by_first = _sweeps_sent(client, beat_queue)
        elapsed = time.monotonic() - started
        standby = next(beat for beat in beats if beat is not holder)
        processes.wait_for(lambda: _sweeps_sent(client, beat_queue).count(standby.pid) >= 5)
        assert _beat_health(env) == 0
    finally:
        for beat in beats:
            processes.stop(beat)
    senders = _sweeps_sent(client, beat_queue)
    assert set(sent_by_first) == {holder.pid}
    # One beat's rate: at most one sweep a second (two beats would send about twice as many).
    assert len(sent_by_first) <= elapsed + 1
    assert senders == [holder.pid] * len(sent_by_first) + [standby.pid] * (len(senders) - len(sent_by_first))
    assert client.get(f"serviflow:beat:{beat_queue}:lock") is None  # released on a clean stop
    assert _beat_health(env) == 1
