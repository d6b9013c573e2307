"""Reading a stored message: its addresses and headers, a safe text body and its attachments.

Charsets are decoded as declared and detected (charset-normalizer) when the declaration is
missing or wrong; an HTML-only mail becomes text through nh3 (no markup survives); the reply
part of an answer is separated from the quoted history by a maintained reply parser, and the
full text is kept beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
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
    # Why the body could not be read at all ("" when it could): the mail goes to triage.
    unreadable: str = ""

    @property
    def thread_ids(self) -> list[str]:
        return [*self.in_reply_to, *reversed(self.references)]

    def reply_text(self) -> str:
        """The answer without its quoted history and signature (falls back to the whole text)."""
        try:
            reply = _REPLY_PARSER.parse_reply(text=self.text).strip()
        except Exception:  # noqa: BLE001 (a third-party heuristic: the whole text is never wrong)
            reply = ""
        return _without_signature(_without_trailing_quote(reply or self.text)) or self.text


# A signature: the RFC 3676 delimiter "-- " (Apple Mail, Thunderbird, mutt) and whatever follows,
# or a phone's "Sent from my iPhone" / "Get Outlook for iOS" as the last line.
_SIGNATURE_DELIMITER = re.compile(r"(?m)^-- ?$")
_SENT_FROM = re.compile(
    r"(?i)\n\s*(sent from my|get outlook for|gesendet von meinem|envoy\u00e9 de mon)\b[^\n]*$"
)


def _without_signature(text: str) -> str:
    """The text without a delimited signature or a trailing "Sent from my ..." line."""
    if (delimiter := _SIGNATURE_DELIMITER.search(text)) is not None:
        text = text[: delimiter.start()]
    return _SENT_FROM.sub("", text.rstrip()).rstrip()


def _without_trailing_quote(text: str) -> str:
    """The text without the quoted block (``> ...`` lines) it ends with."""
    lines = text.rstrip().splitlines()
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).rstrip()


_FINAL_RECIPIENT = re.compile(rb"(?im)^Final-Recipient:\s*rfc822;\s*<?([^\s<>;]+@[^\s<>;]+)>?")


def bounced_addresses(raw: bytes) -> list[str]:
    """The recipients a delivery report says could not be reached (``Final-Recipient``)."""
    found = [match.decode("ascii", "replace").strip().lower() for match in _FINAL_RECIPIENT.findall(raw)]
    return list(dict.fromkeys(found))[:20]


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
    return " ".join(str(value or "").replace("\x00", "").split())


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
    """A text part as text: its declared charset, else UTF-8, else detected; line ends are
    ``\n`` and a ``format=flowed`` text is unwrapped (RFC 3676)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = _text_of(payload, part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format", "") or "").lower() == "flowed":
        text = _unflowed(text, delsp=str(part.get_param("delsp", "") or "").lower() == "yes")
    return text


# Declared single-byte charsets that mail programs put on UTF-8 text by mistake: a payload that
# is valid UTF-8 with non-ASCII bytes is read as UTF-8 (Latin text is practically never valid
# UTF-8 by accident).
_LATIN_DECLARED = frozenset({"iso-8859-1", "iso-8859-15", "latin1", "latin-1", "windows-1252", "cp1252"})


def _text_of(payload: bytes, declared: str | None) -> str:
    if declared:
        if declared.lower() in _LATIN_DECLARED and not payload.isascii():
            try:
                return payload.decode("utf-8")
            except UnicodeDecodeError:
                pass
        try:
            return payload.decode(declared)
        except (LookupError, ValueError):  # unknown, or not even a name (NUL)
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return _detected(payload)


def _unflowed(text: str, *, delsp: bool) -> str:
    """RFC 3676: a line ending in a space continues on the next line (the signature delimiter
    "-- " excepted); space-stuffing is undone; quoted lines join only at the same depth."""
    out: list[str] = []
    joining, out_depth = False, 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if joining and out and depth == out_depth:
            out[-1] += content
        else:
            out.append(">" * depth + (" " if depth and content else "") + content)
            out_depth = depth
        joining = content.endswith(" ") and content != "-- "
        if joining and delsp:
            out[-1] = out[-1][:-1]
    return "\n".join(out)


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
    """Safe text from HTML: white space in the source is one space (as a browser shows it),
    block ends become line breaks and table cells are spaced, every tag goes (nh3), entities
    are decoded, blank runs are folded."""
    marked = re.sub(r"(?is)<(script|style|head|title)\b.*?</\1\s*>", "", html)
    marked = re.sub(r"\s+", " ", marked)
    marked = re.sub(r"(?i)<\s*(br|hr|/p|/div|/li|/tr|/h[1-6]|/blockquote|/pre)\b[^>]*>", "\n", marked)
    marked = re.sub(r"(?i)<\s*/t[dh]\s*>", " ", marked)
    text = unescape(nh3.clean(marked, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _utf8_headers(raw: bytes) -> bytes:
    """The message with its header lines in UTF-8: unencoded 8-bit headers (RFC 6532 allows
    UTF-8; older programs send Latin-1 or Windows-1252) are read as UTF-8 when they are valid
    UTF-8 and as Windows-1252 otherwise, so that no header decodes to replacement characters."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    head = raw[:end]
    if head.isascii():
        return raw
    lines = []
    for line in head.split(b"\n"):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            line = _latin(line).encode("utf-8")
        lines.append(line)
    return b"\n".join(lines) + raw[end:]


def _latin(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _leaves(part: Message) -> Iterator[Message]:
    """The leaf parts in order; an attached message (``message/rfc822``) is one leaf, not
    opened (its text is not the mail's text, its files are not the mail's files)."""
    pending = [part]
    while pending:
        current = pending.pop()
        if current.get_content_type() == "message/rfc822" or not current.is_multipart():
            yield current
            continue
        payload = current.get_payload()
        children = payload if isinstance(payload, list) else []
        pending.extend(child for child in reversed(children) if isinstance(child, Message))


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename() or None
    except Exception:  # noqa: BLE001 (a malformed parameter reads as absent)
        return None


def _attached_message(part: Message, filename: str | None) -> Attached | None:
    """A forwarded mail kept whole, as an ``.eml`` file."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    try:
        content = inner.as_bytes()
    except Exception:  # noqa: BLE001 (a message the library cannot write again: its text)
        content = inner.as_string(policy=policy.compat32).encode("utf-8", "replace")
    name = filename or _header(inner, "Subject") or "forwarded message"
    if not name.lower().endswith(".eml"):
        name += ".eml"
    return Attached(name.replace("/", "_")[:200], "message/rfc822", content)


def parse(raw: bytes) -> Parsed:
    data = _utf8_headers(raw)
    unreadable = ""
    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
        text, html, attachments = _body(message)
    except RecursionError:  # the standard library's parser recurses once per nesting level
        message = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        text, html, attachments = "", "", []
        unreadable = "MIME parts nested too deeply to read"
    from_name, from_address = parseaddr(_header(message, "From"))
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
        unreadable=unreadable,
    )


def _body(message: Message) -> tuple[str, str, list[Attached]]:
    """The first text/plain and text/html parts, and the files."""
    text, html = "", ""
    attachments: list[Attached] = []
    for part in _leaves(message):
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if content_type == "message/rfc822":
            if (forwarded := _attached_message(part, filename)) is not None:
                attachments.append(forwarded)
            continue
        if filename or disposition == "attachment" or content_type.split("/")[0] in ("image", "application"):
            content = part.get_payload(decode=True)
            if isinstance(content, bytes) and content_type not in ("message/delivery-status",):
                name = filename or f"attachment.{content_type.split('/')[-1][:10]}"
                attachments.append(Attached(name, content_type, content, inline=disposition == "inline"))
            continue
        if content_type.startswith("multipart/"):  # a multipart without its boundary: its text
            content_type = "text/plain"
        if content_type == "text/plain" and not text:
            text = _decode(part)
        elif content_type == "text/html" and not html:
            html = _decode(part)
    return text, html, attachments
