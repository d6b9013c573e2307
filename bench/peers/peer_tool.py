"""What ``bench/peers`` asks of the peer's own environment (run by the peer's virtual
environment's Python, with ``peer_settings``), one command per call, answering in JSON on the
last line of its output:

- ``setup``: migrate the peer's database, then make a staff user with an API token and one
  queue: ``{"token": ..., "queue": id}``;
- ``fill N``: bring the peer's tickets up to N (model instances, ``bulk_create``: every column
  not set here takes the model's default), then ANALYZE: ``{"tickets": N}``.
"""

from __future__ import annotations

import json
import os
import random
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402 - the peer's own user model, Django's
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from helpdesk.models import Queue, Ticket  # type: ignore[import-not-found]  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

STATUSES = (Ticket.OPEN_STATUS, Ticket.REOPENED_STATUS, Ticket.RESOLVED_STATUS, Ticket.CLOSED_STATUS)


def setup() -> dict[str, object]:
    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create(username="bench", email="bench@peer.bench", is_staff=True, is_superuser=True)
    token, _ = Token.objects.get_or_create(user=user)
    queue = Queue.objects.create(title="Bench", slug="bench", email_address="queue@peer.bench")
    return {"token": token.key, "queue": queue.pk}


def fill(wanted: int) -> dict[str, object]:
    queue = Queue.objects.get(slug="bench")
    have = Ticket.objects.count()
    rng = random.Random(f"bench-peers-{have}")  # noqa: S311 - fixed seed, not security
    tickets = [
        Ticket(
            queue=queue,
            title=f"Bench ticket {n}",
            description="Printer on floor 3 does not print.",
            submitter_email=f"user{n % 50}@peer.bench",
            status=rng.choice(STATUSES),
            priority=rng.randint(1, 5),
        )
        for n in range(have + 1, wanted + 1)
    ]
    with transaction.atomic():
        Ticket.objects.bulk_create(tickets, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"tickets": Ticket.objects.count()}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    answer = setup() if command == "setup" else fill(int(args[0]))
    print(json.dumps(answer))
