"""Writes of IMAP mailboxes, for the API and the console alike (provider admins; the callers check
who may). The password is stored encrypted (``mail.secrets``) and never read back out.

Pointing a mailbox elsewhere (host, port, user name or folder) forgets where its polls had got
to: the next poll reads that folder from its first UID (what was stored already is a duplicate,
a no-op). Deleting a mailbox keeps every message it brought (they lose the link to it)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from core.changes import UNSET, Changes
from mail import secrets
from mail.models import InboundMessage, Mailbox
from tenants.models import Customer

MAILBOXES_REFUSAL = "Only provider admins can configure mailboxes."
HOST_MAX, USERNAME_MAX, PASSWORD_MAX, FOLDER_MAX = 253, 320, 500, 200
# A host name (its labels) or an IPv4 address; the API's schema states the same patterns.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = rf"^{_LABEL}(?:\.{_LABEL})*\.?$"
HOST = re.compile(HOST_PATTERN)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"  # no control characters (the IMAP LOGIN command quotes text)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a change of makes the mailbox another one (its UIDs start over).
_WHERE = ("host", "port", "username", "folder")


@dataclass(frozen=True)
class MailboxFields:
    host: str
    username: str
    password: str
    port: int = 993
    use_ssl: bool = True
    folder: str = "INBOX"
    customer: Customer | None = None


@dataclass(frozen=True)
class MailboxChanges(Changes):
    host: str = UNSET
    port: int = UNSET
    use_ssl: bool = UNSET
    username: str = UNSET
    password: str = UNSET
    folder: str = UNSET
    customer: Customer | None = UNSET


def _checked(values: dict[str, object]) -> dict[str, object]:
    """The values, tidied, or a ValidationError naming each bad one."""
    problems: dict[str, list[str]] = {}
    tidy = dict(values)
    if "host" in values:
        host = str(values["host"]).lower()
        tidy["host"] = host
        if len(host) > HOST_MAX or not HOST.fullmatch(host):
            problems["host"] = ["Give the IMAP server's host name or IPv4 address (imap.example.com)."]
    if "port" in values:
        port = values["port"]
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            problems["port"] = ["A port is a number from 1 to 65535 (993 for IMAPS, 143 without TLS)."]
    for name, maximum in (("username", USERNAME_MAX), ("password", PASSWORD_MAX), ("folder", FOLDER_MAX)):
        if name not in values:
            continue
        text = str(values[name])
        if _CONTROL.search(text):  # before trimming: "name\n" is refused, not made "name"
            problems[name] = ["Control characters (line breaks, tabs) are not allowed."]
            continue
        if name != "password":  # a password is taken exactly as given
            text = text.strip()
            tidy[name] = text
        if not text:
            problems[name] = ["This field may not be blank."]
        elif len(text) > maximum:
            problems[name] = [f"At most {maximum} characters."]
    customer = values.get("customer")
    if isinstance(customer, Customer) and not (customer.is_customer and customer.is_active):
        problems["customer"] = [f"No such customer: '{customer.slug}'."]
    if problems:
        raise ValidationError(problems)
    return tidy


def mailbox_create(*, fields: MailboxFields) -> Mailbox:
    values = _checked(
        {
            "host": fields.host,
            "port": fields.port,
            "username": fields.username,
            "password": fields.password,
            "folder": fields.folder,
            "customer": fields.customer,
        }
    )
    password = str(values.pop("password"))
    return Mailbox.objects.create(
        **values, use_ssl=fields.use_ssl, password_encrypted=secrets.encrypt(password)
    )


def mailbox_update(*, mailbox: Mailbox, changes: MailboxChanges) -> Mailbox:
    values = _checked(changes.given())
    update_fields: list[str] = []
    if "password" in values:
        mailbox.password_encrypted = secrets.encrypt(str(values.pop("password")))
        update_fields.append("password_encrypted")
    moved = any(name in values and values[name] != getattr(mailbox, name) for name in _WHERE)
    for name, value in values.items():
        setattr(mailbox, name, value)
        update_fields.append(name)
    if moved:
        mailbox.uidvalidity, mailbox.last_uid, mailbox.last_error = None, 0, ""
        update_fields += ["uidvalidity", "last_uid", "last_error"]
    if update_fields:
        mailbox.save(update_fields=[*dict.fromkeys(update_fields)])
    return mailbox


def mailbox_delete(*, mailbox: Mailbox) -> None:
    with transaction.atomic():
        InboundMessage.objects.filter(mailbox=mailbox).update(mailbox=None)
        mailbox.delete()
