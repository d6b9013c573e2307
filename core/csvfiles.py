"""CSV the product writes: every exported cell goes through ``csv_cell``, so that a value a
person typed (a name, a note) can never start a formula in the spreadsheet that opens the file
(CSV injection: ``=HYPERLINK(...)``, ``=cmd|...``). The imports refuse such cells on the way in
(``imports.csvfile``); this is the way out."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

# A cell starting with one of these is a formula to spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a value that would start a formula gets a quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file for ``csv.writer`` that hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The lines of a CSV file (for a streamed response), every cell escaped by ``csv_cell``."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])
