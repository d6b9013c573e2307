"""``manage.py mail_server``: the SMTP (or, with ``--lmtp``, LMTP) listener of the email channel."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from mail.smtp import controller


class Command(BaseCommand):
    help = "Receive mail over SMTP (or LMTP) and store it for the worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 (a listener, behind the firewall)
        parser.add_argument("--port", type=int, default=int(settings.MAIL_PORT))
        parser.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")

    def handle(self, *args: Any, **options: Any) -> None:
        listener = controller(host=options["host"], port=options["port"], lmtp=options["lmtp"])
        listener.start()
        kind = "LMTP" if options["lmtp"] else "SMTP"
        self.stdout.write(f"{kind} listener on {options['host']}:{options['port']}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        listener.stop()
