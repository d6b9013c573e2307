"""Bad input by kind: what outside testers sent that gave 500s, as classes of values. Each kind
has its seeds (the classic offenders: '²', a NUL byte, 2**63, '9999-12'..., always sent) and a
hypothesis strategy that draws other members of the class (unicode digits of other scripts,
NULs inside words, numbers between 2**63 and 10**40, datetimes of any year with extreme
offsets...).

Long and deep values are drawn as a size and built here: hypothesis stays fast and never
overruns its buffer on a 10,000-character string or a 3,000-level document.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

# Digits Python's str.isdigit() (and partly int()) accepts that PostgreSQL and ASCII-only code do not.
UNICODE_DIGITS = "²³¹٣۵１߁०৩๓𝟘⁰₀①"
HUGE = [2**63, 10**30, -1, 0, -(2**63) - 1, 2**31, 2**64, 10**400]
DATES = [
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "2026-13-45",
    "2026-01-01T00:00:00-23:59",
    "9999-12",
    "0000-00-00",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2026-02-30",
    "-0001-01-01",
    "99999-01-01",
    "2026-W53-8",
]
WORDS = [
    "Infinity",
    "-Infinity",
    "NaN",
    "1e309",
    "-0",
    "",
    " ",
    "null",
    "true",
    "%",
    "*",
    "'",
    '"',
    "\\",
    "../",
    "0x10",
    "1_000",
]
STRUCTURES: list[Any] = [None, True, [], {}, [1], {"a": 1}, ["x", "y"], 1.5, -1e308]


@dataclass(frozen=True)
class Deep:
    """A JSON value ``depth`` levels deep, written out as text (json.dumps would recurse)."""

    depth: int
    opener: str = "["

    def text(self) -> str:
        closer = "]" if self.opener == "[" else "}"
        inner = "[" if self.opener == "[" else '{"a":'
        return inner * self.depth + "1" + closer * self.depth

    def __repr__(self) -> str:
        return f"<JSON {self.depth} levels of {self.opener}>"


class Long(str):
    """A long string that shows as its length in failure messages."""

    def __repr__(self) -> str:
        return f"<{len(self)} x {self[:1]!r}>"


def _offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


unicode_digits = st.text(alphabet=st.sampled_from(UNICODE_DIGITS), min_size=1, max_size=4) | st.builds(
    lambda a, b: f"{a}{b}", st.integers(0, 99), st.sampled_from(UNICODE_DIGITS)
)
nul = st.builds(
    lambda a, b: f"{a}\x00{b}",
    st.sampled_from(["", "1", "acme", "open", "P1", "2026-01-01"]),
    st.text(alphabet="ab1\x00", max_size=3),
)
huge_number = (
    st.sampled_from(HUGE) | st.integers(min_value=2**63, max_value=10**40) | st.integers(max_value=-1)
)
long_text = st.builds(
    lambda char, size: Long(char * size),
    st.sampled_from(["x", "é", "名", "😀", "1"]),
    st.integers(min_value=10_000, max_value=12_000),
)
extreme_date = st.sampled_from(DATES) | st.builds(
    lambda at, minutes: at.replace(tzinfo=_offset(minutes)).isoformat(),
    st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)])  # noqa: DTZ001 - the offset is set next
    | st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),  # noqa: DTZ001
    st.sampled_from([-1439, 1439, 0, -720]),
)
odd_word = st.sampled_from(WORDS)
structure = st.sampled_from(STRUCTURES)
deep = st.builds(Deep, st.integers(min_value=1_000, max_value=3_000), st.sampled_from(["[", "{"]))


@dataclass(frozen=True)
class Kind:
    name: str
    seeds: tuple[Any, ...]
    values: st.SearchStrategy[Any]


# The kinds every text input (path argument, query parameter, form field) gets.
TEXT_KINDS = (
    Kind("unicode digits", ("²",), unicode_digits),
    Kind("NUL", ("\x00",), nul),
    Kind("huge number", (str(2**63),), huge_number.map(str)),
    Kind("long text", (Long("é" * 10_000),), long_text),
    Kind("extreme date", ("0001-01-01", "9999-12", "9999-12-31T23:59:59Z"), extreme_date),
    Kind("odd word", ("Infinity",), odd_word),
)
# JSON fields get typed values too: numbers as numbers, lists and objects where scalars go,
# documents nested beyond any parser's recursion limit.
JSON_KINDS = (
    *(kind for kind in TEXT_KINDS if kind.name != "huge number"),
    Kind("huge number", (2**63,), huge_number),
    Kind("structure", ([],), structure),
    Kind("deep JSON", (Deep(1_000),), deep),
)


def json_text(value: Any) -> str:
    """``value`` as JSON text; ``Deep`` values anywhere inside are written out as text."""
    if isinstance(value, Deep):
        return value.text()
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    if isinstance(value, float) and value != value:  # NaN: not JSON; sent as the word instead
        return '"NaN"'
    return json.dumps(value)


# --- the unified queue's cursor -------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_with(valid: str, part: str, value: Any) -> str:
    """``valid`` (the queue's base64 JSON ``{"o": ordering, "k": [key, id], "b": backwards}``)
    with one part replaced: ``k0``/``k1`` (the key's halves), ``k``, ``o`` or ``b``."""
    changed = json.loads(base64.urlsafe_b64decode(valid + "=" * (-len(valid) % 4)))
    if part in ("k0", "k1"):
        changed["k"][int(part[1])] = value
    else:
        changed[part] = value
    return _b64(json.dumps(changed).encode())


def tampered_cursor(valid: str | None) -> st.SearchStrategy[str]:
    """Garbage, or ``valid`` with one of its parts replaced."""
    garbage = st.sampled_from(["Infinity", "\x00", "!!!", "e30", "%00", "a" * 5000]) | st.binary(
        max_size=40
    ).map(_b64)
    if valid is None:
        return garbage
    anything = st.one_of(huge_number, extreme_date, nul, unicode_digits, odd_word, structure)
    tampered = st.builds(
        lambda part, value: cursor_with(valid, part, value),
        st.sampled_from(["k1", "k0", "k", "b", "o"]),
        anything,
    )
    nested = st.builds(lambda d: _b64(d.text().encode()), deep)
    return tampered | garbage | nested


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
