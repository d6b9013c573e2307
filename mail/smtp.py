"""The SMTP (or LMTP) listener, on aiosmtpd: it accepts recipients on the domains we serve only
(550 for anything else, so it is never an open relay), stores each message raw
(``mail.store``) before it answers 250, and leaves everything else to the worker."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connection

from audit.context import job_context
from mail.addresses import served_domains
from mail.models import Source
from mail.store import store_raw

# The listener takes mails up to twice the parse limit (a bigger one is stored and triaged as
# too large, never bounced); anything beyond is refused at DATA (552).
LIMIT_FACTOR = 2


class Handler:
    def __init__(self, source: str = Source.SMTP) -> None:
        self.source = source

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rsplit("@", 1)[-1].strip().lower() if "@" in address else ""
        domains = await asyncio.to_thread(_served)
        if domain not in domains:
            return "550 5.7.1 Relaying denied: not a domain we receive mail for"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw or "").encode("utf-8", "surrogateescape")
        stored = await asyncio.to_thread(
            _store, raw, str(envelope.mail_from or ""), list(envelope.rcpt_tos), self.source
        )
        return f"250 2.0.0 Stored as {stored}"


# Each call runs in one of asyncio's threads and gives its database connection back to the pool
# when it is done: the threads outnumber the pool's connections, and a thread that kept one
# would leave the next session waiting for it (and refusing its mail).


def _served() -> set[str]:
    close_old_connections()
    try:
        return served_domains()
    finally:
        connection.close()


def _store(raw: bytes, envelope_from: str, envelope_to: list[str], source: str) -> int:
    close_old_connections()
    try:
        with job_context(f"mail.{source}"):
            return store_raw(raw, envelope_from=envelope_from, envelope_to=envelope_to, source=source).id
    finally:
        connection.close()


class LmtpController(Controller):
    def factory(self) -> Any:
        return LMTP(self.handler, **self.SMTP_kwargs)


def controller(*, host: str, port: int, lmtp: bool = False) -> Controller:
    limit = int(settings.EMAIL_MAX_BYTES) * LIMIT_FACTOR
    handler = Handler(Source.LMTP if lmtp else Source.SMTP)
    kind = LmtpController if lmtp else Controller
    return kind(handler, hostname=host, port=port, data_size_limit=limit, decode_data=False)
