"""The one way to read a value that came from outside: a path, a query string, a form, a JSON
body, a CSV row. Each parser returns a clean Python value or raises Django's ``ValidationError``
keyed by the input's name, which every channel shows as a 400 naming the problem (the API's
envelope, a page's message). Nothing here trusts ``str.isdigit()`` ("²" passes it), ``int()``
(it takes "٣", "+3" and " 3") or the platform's zone list ("localtime" is in it).

Values are bounded so that nothing downstream overflows: ids fit PostgreSQL's bigint, instants
stay within ``EARLIEST``..``LATEST`` (so business-time arithmetic and ``date + 1 month`` never
leave what Python and PostgreSQL can represent).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date, parse_datetime

BIGINT_MAX = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")
_INTEGER = re.compile(r"-?[0-9]{1,40}")
# A month within EARLIEST..LATEST (1970-01..8999-12), as a pattern the API's schema states too.
MONTH_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])$"
# A date within EARLIEST..LATEST, as a pattern the API's schema states (the parser checks the rest).
DAY_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")

# Instants and dates people may give: far enough for any real ticket, contract or report, and
# far enough from Python's year 9999 that "a due time 30 business days later" stays representable.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


NUL_REFUSED = "NUL characters are not allowed (PostgreSQL cannot store them)."


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def clean_text(value: object, *, field: str) -> str:
    """Any text input: refused if it holds a NUL character (PostgreSQL cannot store one)."""
    text = _text(value)
    if "\x00" in text:
        raise _refuse(field, NUL_REFUSED)
    return text


# --- ids and names -------------------------------------------------------------------------------


def is_id(value: object) -> bool:
    """Is ``value`` written as an object id: 1-19 ASCII digits, within bigint, nothing else?"""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 0 < value <= BIGINT_MAX
    text = _text(value)
    return bool(_ID.fullmatch(text)) and 0 < int(text) <= BIGINT_MAX


def parse_id(value: object, *, field: str, what: str = "an id") -> int:
    """An object id (``12``, ``"12"``) or a 400 naming ``field``."""
    if not is_id(value):
        shown = clean_text(value, field=field)[:40]
        raise _refuse(field, f"'{shown}' is not {what} (a whole number written with the digits 0-9).")
    return int(str(value))


def parse_optional_id(value: object, *, field: str, what: str = "an id") -> int | None:
    """``parse_id``, with None for an absent or empty value."""
    if value is None or value == "":
        return None
    return parse_id(value, field=field, what=what)


@dataclass(frozen=True)
class IdOrName:
    """An input that names an object either by id or by name: exactly one is set."""

    id: int | None = None
    name: str | None = None


def parse_id_or_name(value: object, *, field: str, max_length: int = 200) -> IdOrName | None:
    """``"12"`` → the object with id 12; anything else → the object named so (the caller looks it
    up); None for an empty value. ``"²"`` is a name, never an id."""
    if value is None:
        return None
    text = clean_text(value, field=field).strip()
    if not text:
        return None
    if is_id(text):
        return IdOrName(id=int(text))
    if len(text) > max_length:
        raise _refuse(field, f"At most {max_length} characters (got {len(text)}).")
    return IdOrName(name=text)


def parse_int(value: object, *, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number in ASCII digits (optionally negative), within the given bounds (and
    within PostgreSQL's bigint whatever they are)."""
    text = _text(value).strip() if not isinstance(value, int) or isinstance(value, bool) else str(value)
    if not _INTEGER.fullmatch(text):
        raise _refuse(field, "A whole number is required.")
    number = int(text)
    minimum = -BIGINT_MAX if minimum is None else minimum
    maximum = BIGINT_MAX if maximum is None else min(maximum, BIGINT_MAX)
    if number < minimum:
        raise _refuse(field, f"Must be at least {minimum}.")
    if number > maximum:
        raise _refuse(field, f"Must be at most {maximum}.")
    return number


def parse_choices(
    raw: object, *, field: str, allowed: Iterable[str] | None = None, pattern: str | None = None
) -> tuple[str, ...]:
    """A comma-separated list (``open,pending``); each value checked against ``allowed`` (or,
    without it, against the regular expression ``pattern``)."""
    text = clean_text(raw or "", field=field)
    values = tuple(value.strip() for value in text.split(",") if value.strip())
    if pattern is not None and (wrong := [value for value in values if not re.fullmatch(pattern, value)]):
        raise _refuse(field, f"Not a {field}: {', '.join(value[:40] for value in wrong[:5])}.")
    if allowed is not None:
        known = list(allowed)
        wrong = [value for value in values if value not in known]
        if wrong:
            shown = ", ".join(value[:40] for value in wrong[:5])
            raise _refuse(field, f"Unknown value(s) {shown}; use {', '.join(known)}.")
    return values


def parse_flag(value: object, *, field: str) -> bool:
    """``true`` or ``false``, as OpenAPI writes a boolean in a query string."""
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text in {"true", "false"}:
        return text == "true"
    raise _refuse(field, "Use true or false.")


# --- time ---------------------------------------------------------------------------------------


@cache
def zone_names() -> frozenset[str]:
    """The IANA time zones people may choose. The platform's list also holds names that are not
    zones of the world ("localtime" follows the server's own setting, "Factory" is a
    placeholder, ``posix/`` and ``right/`` are copies); they are left out."""
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in {"localtime", "Factory", "posixrules"} and not name.startswith(("posix/", "right/"))
    )


def validate_timezone(value: object) -> None:
    """Django validator: ``value`` is an IANA zone name (``Europe/Berlin``, ``UTC``)."""
    if not isinstance(value, str) or value not in zone_names():
        shown = _text(value)[:64].replace("\x00", "")
        raise ValidationError(
            f"'{shown}' is not an IANA time zone (e.g. Europe/Berlin).", code="invalid_timezone"
        )


def parse_timezone(value: object, *, field: str = "timezone") -> str:
    try:
        validate_timezone(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    return str(value)


def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The zone a stored name stands for, or UTC if it is not (or no longer) a zone we offer."""
    if name not in zone_names():
        return zoneinfo.ZoneInfo("UTC")
    return zoneinfo.ZoneInfo(name)


def in_range(at: datetime) -> bool:
    return EARLIEST <= at < LATEST


def check_instant(at: datetime, *, field: str) -> datetime:
    """An aware instant within ``EARLIEST``..``LATEST``."""
    if at.tzinfo is None:
        raise _refuse(field, "Give a time zone offset (e.g. 2026-11-24T10:00Z).")
    try:
        inside = in_range(at)
    except OverflowError:
        inside = False
    if not inside:
        raise _refuse(field, f"Must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
    return at


def parse_instant(value: object, *, field: str) -> datetime:
    """An ISO 8601 instant with an offset (``2026-11-24T10:00Z``), within range."""
    text = clean_text(value, field=field).strip()
    try:
        at = parse_datetime(text) if text.isascii() else None  # Django's patterns take any digit
    except (ValueError, OverflowError):
        at = None
    if at is None:
        raise _refuse(field, "Give an ISO 8601 instant such as 2026-11-24T10:00Z.")
    return check_instant(at, field=field)


def parse_date_value(value: object, *, field: str) -> date:
    """A calendar date ``YYYY-MM-DD`` within range."""
    text = clean_text(value, field=field).strip()
    try:
        day = parse_date(text) if text.isascii() else None  # Django's pattern takes any digit
    except ValueError:
        day = None
    if day is None:
        raise _refuse(field, f"Use a date such as 2026-11-21 (got {text[:40]!r}).")
    if not EARLIEST.date() <= day < LATEST.date():
        raise _refuse(field, f"Must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")
    return day


def parse_month(value: object, *, field: str = "month") -> date:
    """A month ``YYYY-MM``, as its first day, within range."""
    text = clean_text(value, field=field)
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise _refuse(field, f"Use the form YYYY-MM, e.g. 2026-11 (got {text[:20]!r}).")
    year = int(match.group(1))
    if not EARLIEST.year <= year < LATEST.year:
        raise _refuse(field, f"Must be between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}.")
    first = date(year, int(match.group(2)), 1)
    if not EARLIEST.date() <= first < LATEST.date():
        raise _refuse(field, f"Must be between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}.")
    return first


# --- JSON ------------------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
# A JSON string (with its escapes) or a bracket: strings are skipped whole, so brackets inside
# them do not count, and the scan costs one step per token, not per byte.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.I)


def json_problem(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """What makes a JSON document unacceptable before it is parsed, or None: nesting deeper than
    ``max_depth`` (a parser would recurse that deep) or a NUL character in a string (raw, or
    escaped as ``\\u0000``; PostgreSQL cannot store it). Malformed JSON is left to the parser."""
    depth, nul = 0, b"\x00" in raw
    for match in _JSON_TOKENS.finditer(raw):  # the depth first: json_nul_field parses the NUL case
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return f"JSON may be nested at most {max_depth} levels deep."
        elif token in (b"]", b"}"):
            depth -= 1
        elif not nul and b"\\u" in token and _JSON_NUL.search(token):
            nul = True
    return NUL_REFUSED if nul else None


def json_nul_field(raw: bytes) -> str:
    """Which top-level member of a JSON object holds the NUL ``json_problem`` found ("body" when
    the document is no object or cannot be read). Called only after the depth was checked."""
    try:
        document = json.loads(raw)
    except ValueError:
        return "body"
    if isinstance(document, dict):
        for key, value in document.items():
            if _holds_nul(key) or _holds_nul(value):
                return str(key).replace("\x00", "") or "body"
    return "body"


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def parse_json_text(value: object, *, field: str) -> object:
    """JSON typed into a form field (a CI's attributes, the simulator's targets)."""
    text = _text(value)
    problem = json_problem(text.encode("utf-8", "surrogatepass"))
    if problem is not None:
        raise _refuse(field, problem)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(field, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
