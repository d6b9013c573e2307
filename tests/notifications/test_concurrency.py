"""Preferences under concurrency: first saves of one person's notification preferences at once
(each request on its own thread and connection, committed rows) all succeed, none a 500, and
the row keeps what each wrote."""

from __future__ import annotations

import threading
import uuid
from datetime import time
from typing import Any

from django.db import connection

from accounts.services import AgentFields, agent_create
from audit.context import job_context
from notifications.models import NotificationPreference
from tests.conftest import PASSWORD, api_for

PREFERENCES = "/api/v1/me/notification-preferences/"
THREADS = 8


def test_concurrent_first_saves_of_preferences_all_succeed(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock():
        with job_context("tests.concurrency"):
            agent = agent_create(
                fields=AgentFields(email=f"prefs-{tag}@msp.test", name="Prefs"), password=PASSWORD
            )
        assert not NotificationPreference.objects.filter(user=agent).exists()
        clients = [api_for(agent) for _ in range(THREADS)]
        bodies: list[dict[str, Any]] = [
            {"muted": {"ticket_updated": ["email"]}}
            if index % 2
            else {"quiet_from": "22:00", "quiet_to": "07:00"}
            for index in range(THREADS)
        ]
        barrier = threading.Barrier(THREADS)
        answers: list[Any] = []
        failures: list[BaseException] = []

        def one(index: int) -> None:
            try:
                barrier.wait(timeout=30)
                answers.append(clients[index].patch(PREFERENCES, bodies[index], format="json"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                connection.close()  # this thread's own connection

        threads = [threading.Thread(target=one, args=(index,)) for index in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        assert [answer.status_code for answer in answers] == [200] * THREADS, [
            a.content[:200] for a in answers
        ]
        preference = NotificationPreference.objects.get(user=agent)
        assert preference.muted == {"ticket_updated": ["email"]}
        assert (preference.quiet_from, preference.quiet_to) == (time(22, 0), time(7, 0))
