"""Faults on the email path: a worker killed in the middle of processing a mail leaves nothing
half written, and the mail is processed again (the sweep) into exactly one ticket."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from audit.context import job_context
from mail import store
from mail.models import InboundMessage, State
from mail.tasks import sweep
from people.services import CustomerUserFields, customer_user_create
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import PASSWORD
from tests.support import processes
from tickets.models import Ticket

pytestmark = pytest.mark.worker

# A worker that dies (SIGKILL) after routing the mail, before its transaction commits.
DYING_WORKER = """
import os, signal, sys
import django
django.setup()
from audit.context import job_context
from mail import processing
routed = processing.route
def route_then_die(*args, **kwargs):
    routed(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
processing.route = route_then_die
with job_context("mail.process"):
    processing.process(int(sys.argv[1]))
"""


def test_a_worker_killed_mid_processing_loses_nothing(
    django_db_setup: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.mail"):
        customer = customer_provision(name=f"Kill {tag}", slug=f"kill-{tag}")
        with customer_schema(customer):
            sender = customer_user_create(
                customer=customer,
                fields=CustomerUserFields(email=f"kim@kill-{tag}.test", name="Kim"),
                password=PASSWORD,
            ).user
        raw = (
            f"From: {sender.email}\r\nTo: {customer.slug}@localhost\r\nSubject: Killed\r\n"
            f"Message-ID: <kill-{tag}@sender.test>\r\n\r\nThe worker dies on this one.\r\n"
        ).encode()
        monkeypatch.setattr(store, "_enqueue", lambda pk: None)  # its task is lost, as in a crash
        stored = store.store_raw(raw, envelope_from=sender.email, envelope_to=[f"{customer.slug}@localhost"])

    died = subprocess.run(
        [sys.executable, "-c", DYING_WORKER, str(stored.id)],
        cwd=processes.ROOT,
        env=processes.process_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == -9, died.stderr.decode()[-2000:]
    with django_db_blocker.unblock():
        message = InboundMessage.objects.get(pk=stored.id)
        assert message.state == State.RECEIVED and message.attempts == 0 and message.ticket_id is None
        with customer_schema(customer):
            assert not Ticket.objects.exists()
        # beat's sweep picks up what a dead worker left (once it is older than STUCK_AFTER)
        with time_machine.travel(timezone.now() + timedelta(minutes=3)), job_context("mail.sweep"):
            assert sweep() == 1
            assert sweep() == 0
        message.refresh_from_db()
        assert message.state == State.TICKET
        with customer_schema(customer):
            assert list(Ticket.objects.values_list("subject", flat=True)) == ["Killed"]
