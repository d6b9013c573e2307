"""Reading a stored message: its addresses and headers, a safe text body and its attachments.

Charsets are decoded as declared and detected (charset-normalizer) when the declaration is
missing or wrong; an HTML-only mail becomes text through nh3 (no markup survives); the reply
part of an answer is separated from the quoted history by a maintained reply parser, and the
full text is kept beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html import unescape

import nh3
from charset_normalizer import from_bytes
from mailparser_reply import EmailReplyParser

MAX_SUBJECT = 200
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,990})>")
_REPLY_PARSER = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl", "pl", "sv"])


@dataclass
class Attached:
    filename: str
    content_type: str
    content: bytes
    inline: bool = False


@dataclass
class Parsed:
    from_address: str
    from_name: str
    to: list[str]
    subject: str
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    headers: dict[str, str]
    content_type: str
    text: str
    html: str = ""
    attachments: list[Attached] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        return [*self.in_reply_to, *reversed(self.references)]

    def reply_text(self) -> str:
        """The answer without its quoted history and signature (falls back to the whole text)."""
        try:
            reply = _REPLY_PARSER.parse_reply(text=self.text).strip()
        except Exception:  # noqa: BLE001 (a third-party heuristic: the whole text is never wrong)
            reply = ""
        return _without_trailing_quote(reply or self.text) or self.text


def _without_trailing_quote(text: str) -> str:
    """The text without the quoted block (``> ...`` lines) it ends with."""
    lines = text.rstrip().splitlines()
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).rstrip()


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a header value, without their angle brackets."""
    return _MESSAGE_ID.findall(value or "")


def first_message_id(raw: bytes) -> str:
    """The Message-ID of a raw message, read cheaply at storage time ("" for none)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = BytesParser(policy=policy.compat32).parsebytes(head + b"\n\n", headersonly=True)
    found = message_ids(str(message.get("Message-ID", "")))
    return found[0] if found else ""


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 (a malformed header reads as absent)
        return ""
    return " ".join(str(value or "").split())


def _addresses(message: Message, *names: str) -> list[str]:
    found: list[str] = []
    values: list[str] = []
    for name in names:
        try:
            values += [str(value) for value in message.get_all(name, [])]
        except Exception:  # noqa: BLE001, S112 (a malformed header reads as absent)
            continue
    for _, address in getaddresses(values):
        address = address.strip().lower()
        if "@" in address and address not in found:
            found.append(address)
    return found


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    if declared:
        try:
            return payload.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return _detected(payload)


# Single-byte Latin encodings a detector cannot tell apart on a short text: undeclared mail in
# one of them is read as Windows-1252 (which includes ISO-8859-1), by far the most common.
_LATIN_LOOKALIKES = frozenset(
    {
        "cp1250",
        "cp1254",
        "cp1257",
        "cp850",
        "cp437",
        "mac_roman",
        "mac_latin2",
        "latin_1",
        "iso8859_2",
        "iso8859_3",
        "iso8859_4",
        "iso8859_9",
        "iso8859_13",
        "iso8859_15",
        "iso8859_16",
    }
)


def _detected(payload: bytes) -> str:
    """Undeclared (or wrongly declared) text: charset-normalizer's best guess, Windows-1252
    where the guess is another Latin single-byte encoding."""
    best = from_bytes(payload).best()
    if best is None or best.encoding in _LATIN_LOOKALIKES or best.encoding == "cp1252":
        try:
            return payload.decode("cp1252")
        except UnicodeDecodeError:
            return payload.decode("latin-1")
    return str(best)


def html_to_text(html: str) -> str:
    """Safe text from HTML: block ends become line breaks, every tag goes (nh3), entities are
    decoded, blank runs are folded."""
    marked = re.sub(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", "\n", html)
    marked = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", "", marked)
    text = unescape(nh3.clean(marked, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse(raw: bytes) -> Parsed:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    from_name, from_address = parseaddr(_header(message, "From"))
    text, html = "", ""
    attachments: list[Attached] = []
    parts = message.walk() if message.is_multipart() else iter([message])
    for part in parts:
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename() if isinstance(part, EmailMessage) else None
        if filename or disposition == "attachment" or content_type.split("/")[0] in ("image", "application"):
            content = part.get_payload(decode=True)
            if isinstance(content, bytes) and content_type not in ("message/delivery-status",):
                name = filename or f"attachment.{content_type.split('/')[-1][:10]}"
                attachments.append(Attached(name, content_type, content, inline=disposition == "inline"))
            continue
        if content_type == "text/plain" and not text:
            text = _decode(part)
        elif content_type == "text/html" and not html:
            html = _decode(part)
    body = text.strip() or (html_to_text(html) if html else "")
    subject = _header(message, "Subject")
    return Parsed(
        from_address=from_address.strip().lower(),
        from_name=" ".join(from_name.split())[:100],
        to=_addresses(message, "To", "Cc", "Delivered-To", "X-Original-To"),
        subject=subject[:998],
        message_id=(message_ids(_header(message, "Message-ID")) or [""])[0],
        in_reply_to=message_ids(_header(message, "In-Reply-To")),
        references=message_ids(_header(message, "References")),
        headers={
            name.lower(): _header(message, name)
            for name in (
                "Auto-Submitted",
                "X-Autoreply",
                "X-Autorespond",
                "Precedence",
                "List-Id",
                "Return-Path",
            )
            if message.get(name) is not None
        },
        content_type=message.get_content_type(),
        text=body.replace("\x00", ""),
        html=html,
        attachments=attachments,
    )
