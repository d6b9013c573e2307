"""Reading an uploaded CSV file, before anything is looked up: pure functions, no database.

- Encoding: UTF-8 (with or without a byte-order mark), else Windows-1252, else Latin-1 (which
  reads any byte; Windows-1252 leaves five bytes undefined).
- Delimiter: ``csv.Sniffer`` over ``, ; tab |``; where the header read with the sniffed one has
  unknown columns and another candidate gives only known ones, that one wins (a one-column file
  sniffs badly).
- Header names are matched case-, space-, hyphen- and underscore-insensitively (``Default SLA``
  is ``default_sla``); an unknown or repeated column is refused by name, a missing required one
  too.
- Limits, each refused with a message naming it: ``MAX_FILE_BYTES``, ``MAX_ROWS``,
  ``MAX_FIELD_CHARS``. NUL bytes and binary content (control characters, a zip/xlsx) are refused.
- Formula injection: a cell starting with ``= + - @`` (or a tab or carriage return) is refused on
  its row, naming the field: spreadsheets would run it once the data is exported again, and a
  legitimate name, email, slug or zone never starts so (a CI's ``attributes`` are JSON and start
  with ``{``). Exports escape such cells anyway (``core.csvfiles.csv_cell``).

Rows are numbered by the line of the file they start on (the header is line 1, so the first data
row is row 2), what a spreadsheet shows beside the row.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from core.csvfiles import FORMULA_STARTS

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_FIELD_CHARS = 10_000
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

KINDS = ("customers", "users", "cis")
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("name", "slug", "timezone", "default_sla", "business_hours", "email_domains"),
    "users": ("customer", "email", "name", "role", "timezone", "sla_policy"),
    "cis": ("customer", "name", "type", "parent", "sla_policy", "owner", "attributes"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("name", "slug"),
    "users": ("customer", "email"),
    "cis": ("customer", "name", "type"),
}

# Zip archives (an .xlsx saved as .csv), PDF, images, executables: not text at all.
_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"MZ", b"\x7fELF")
# Control characters other than tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEADER_NOISE = re.compile(r"[\s_-]+")


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on, its cells by column, and why it cannot be read (a
    formula, a cell too long, too many cells), as (field, message), if it cannot."""

    line: int
    values: dict[str, str]
    problem: tuple[str, str] | None = None


@dataclass(frozen=True)
class CsvTable:
    kind: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","


def _refuse(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


def column_key(name: str) -> str:
    """``" Default SLA "`` → ``defaultsla``: what header names are compared by."""
    return _HEADER_NOISE.sub("", name.replace("\ufeff", "")).lower()


def decode(content: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with; refuses NUL bytes and binary content."""
    if len(content) > MAX_FILE_BYTES:
        raise _refuse(f"The file is {len(content):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes (5 MB).")
    if content.startswith(_BINARY_MAGIC):
        raise _refuse("This is not a CSV file (binary content); save the sheet as CSV and upload that.")
    if b"\x00" in content:
        raise _refuse("The file holds NUL bytes: it is binary or UTF-16, not a CSV file in UTF-8 or Latin-1.")
    text, encoding = _text_of(content)
    control = _CONTROL.search(text)
    if control is not None:
        line = text.count("\n", 0, control.start()) + 1
        raise _refuse(f"This is not a CSV file: a control character (binary content) on line {line}.")
    return text, encoding


def _text_of(content: bytes) -> tuple[str, str]:
    if content.startswith(b"\xef\xbb\xbf"):
        try:
            return content[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise _refuse("The file starts with a UTF-8 byte-order mark but is not UTF-8.") from None
    for encoding in ("utf-8", "cp1252"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1"), "latin-1"


def _header_cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _delimiter(text: str, kind: str) -> str:
    sample = text[:16_384]
    first_line = sample.split("\n", 1)[0].rstrip("\r")
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ","
    known = {column_key(name) for name in COLUMNS[kind]}
    for candidate in dict.fromkeys((sniffed, *DELIMITERS)):
        cells = _header_cells(first_line, candidate)
        if cells and all(column_key(cell) in known for cell in cells):
            return candidate
    return sniffed


def header_columns(cells: list[str], kind: str, required: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The header's cells as column names, or a refusal naming what is unknown, repeated or
    missing (``required``: other required columns than the kind's)."""
    by_key = {column_key(name): name for name in COLUMNS[kind]}
    columns: list[str] = []
    unknown: list[str] = []
    for cell in cells:
        name = by_key.get(column_key(cell))
        if name is None:
            unknown.append(cell.strip()[:40] or "(empty)")
        elif name in columns:
            raise _refuse(f"The column {name} appears twice in the header.")
        else:
            columns.append(name)
    if unknown:
        raise _refuse(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:10])}; "
            f"the columns of {kind} are {', '.join(COLUMNS[kind])}."
        )
    missing = [name for name in (REQUIRED[kind] if required is None else required) if name not in columns]
    if missing:
        raise _refuse(f"Missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
    return tuple(columns)


def parse_csv(content: bytes, *, kind: str, required: tuple[str, ...] | None = None) -> CsvTable:
    """The file as rows of ``kind``, or ValidationError on ``file`` naming what is wrong with
    the file as a whole (rows that cannot be read are kept, with their problem). ``required``
    replaces the kind's required columns (the new-customer wizard's users need no customer)."""
    if kind not in KINDS:
        raise ValidationError({"kind": [f"Use one of {', '.join(KINDS)}."]})
    text, encoding = decode(content)
    if not text.strip():
        raise _refuse("The file is empty: it needs a header line and at least one row.")
    delimiter = _delimiter(text, kind)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        header = next(reader)
        columns = header_columns(header, kind, required)
        rows = _rows(reader, columns)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            limit = f"{MAX_FIELD_CHARS:,} characters, the limit"
            raise _refuse(f"A field on line {reader.line_num + 1} is longer than {limit}.") from None
        raise _refuse(f"Line {reader.line_num}: not readable as CSV ({exc}).") from None
    return CsvTable(kind=kind, columns=columns, rows=rows, encoding=encoding, delimiter=delimiter)


def _rows(reader: Any, columns: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    previous_error_limit = csv.field_size_limit()
    csv.field_size_limit(MAX_FIELD_CHARS + 1)  # a longer field stops the reader (no huge string)
    try:
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines
            if len(rows) >= MAX_ROWS:
                raise _refuse(f"The file has more than {MAX_ROWS:,} rows, the limit; split it.")
            rows.append(_row(start, cells, columns))
    finally:
        csv.field_size_limit(previous_error_limit)
    return rows


def _row(line: int, cells: list[str], columns: tuple[str, ...]) -> Row:
    if len(cells) > len(columns):
        extra = [cell for cell in cells[len(columns) :] if cell.strip()]
        if extra:
            problem = ("file", f"{len(cells)} cells where the header has {len(columns)} columns.")
            return Row(line=line, values={}, problem=problem)
    values = {name: cell.strip() for name, cell in zip(columns, cells, strict=False)}
    for name, value in values.items():
        if len(value) > MAX_FIELD_CHARS:
            return Row(line, {}, (name, f"Longer than {MAX_FIELD_CHARS:,} characters, the limit."))
        if value.startswith(FORMULA_STARTS) or cells[columns.index(name)].startswith(FORMULA_STARTS):
            formula = "Starts like a spreadsheet formula (= + - @); refused (CSV injection)."
            return Row(line, {}, (name, formula))
    return Row(line=line, values=values)


def template(kind: str) -> str:
    """The header line of ``kind``'s template file."""
    return ",".join(COLUMNS[kind]) + "\r\n"
