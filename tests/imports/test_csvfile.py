"""Reading uploaded CSV files: encodings, delimiters, headers, limits and malicious content.
Pure functions: no database."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from core.csvfiles import csv_cell, csv_lines
from imports.csvfile import MAX_FIELD_CHARS, MAX_FILE_BYTES, MAX_ROWS, parse_csv, template


def _refusal(content: bytes, kind: str = "users") -> str:
    with pytest.raises(ValidationError) as caught:
        parse_csv(content, kind=kind)
    return " ".join(caught.value.message_dict["file"])


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("customer,email,name\nacme,zoë@acme.test,Zoë\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "customer,email,name\nacme,zoë@acme.test,Zoë\n".encode(), "utf-8-sig"),
        ("customer,email,name\nacme,zoë@acme.test,Zoë \u2013 \u201cq\u201d\n".encode("cp1252"), "cp1252"),
        # 0x81 is undefined in Windows-1252: only Latin-1 reads it.
        (b"customer,email,name\nacme,zoe@acme.test,Zo\xeb\x81\n", "latin-1"),
    ],
)
def test_encodings_are_detected(content: bytes, encoding: str) -> None:
    table = parse_csv(content, kind="users")
    assert table.encoding == encoding
    assert table.rows[0].values["name"].startswith("Zo")
    assert table.rows[0].values["name"][2] == "ë"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    text = delimiter.join(["customer", "email", "name"]) + "\n"
    text += delimiter.join(["acme", "a@acme.test", "Ann, the admin" if delimiter != "," else "Ann"]) + "\n"
    table = parse_csv(text.encode(), kind="users")
    assert table.delimiter == delimiter
    assert table.rows[0].values["email"] == "a@acme.test"


def test_a_one_column_header_is_read_with_any_delimiter() -> None:
    table = parse_csv(b"Slug;Name\nacme-2;Acme Two\n", kind="customers")
    assert table.rows[0].values == {"slug": "acme-2", "name": "Acme Two"}


def test_headers_match_ignoring_case_and_spaces() -> None:
    table = parse_csv(b" Customer , E-Mail ,SLA Policy,Time Zone\nacme,a@acme.test,Gold,UTC\n", kind="users")
    assert table.columns == ("customer", "email", "sla_policy", "timezone")


def test_unknown_repeated_and_missing_columns_are_refused_by_name() -> None:
    assert "Unknown column phone" in _refusal(b"customer,email,phone\nacme,a@acme.test,1\n")
    assert "email appears twice" in _refusal(b"customer,email,Email\n")
    assert "Missing required column email" in _refusal(b"customer,name\nacme,Ann\n")
    assert "Missing required columns name, slug" in _refusal(b"timezone\nUTC\n", kind="customers")


def test_an_unknown_kind_is_refused_on_kind() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_csv(b"a\n", kind="tickets")
    assert "kind" in caught.value.message_dict


def test_rows_are_numbered_by_their_line_in_the_file() -> None:
    content = b'customer,email,name\nacme,a@acme.test,"Two\nlines"\n\nacme,b@acme.test,B\n'
    table = parse_csv(content, kind="users")
    assert [row.line for row in table.rows] == [2, 5]


def test_limits_are_refused_naming_the_limit() -> None:
    big = b"customer,email\n" + b"acme,a@acme.test\n" * (MAX_FILE_BYTES // 17 + 1)
    assert f"{MAX_FILE_BYTES:,} bytes (5 MB)" in _refusal(big)
    many = b"customer,email\n" + b"a,b\n" * (MAX_ROWS + 1)
    assert f"more than {MAX_ROWS:,} rows" in _refusal(many)


def test_a_huge_single_field_is_refused_with_a_message_not_a_crash() -> None:
    huge = b'customer,email,name\nacme,a@acme.test,"' + b"x" * (4 * 1024 * 1024) + b'"\n'
    assert f"longer than {MAX_FIELD_CHARS:,} characters" in _refusal(huge)
    ten_mb = b"customer,email,name\nacme,a@acme.test," + b"x" * (10 * 1024 * 1024) + b"\n"
    assert "5 MB" in _refusal(ten_mb)
    long_cell = b"customer,email,name\nacme,a@acme.test," + b"x" * (MAX_FIELD_CHARS + 5) + b"\n"
    assert "longer than" in _refusal(long_cell)


def test_binary_content_and_nul_bytes_are_refused() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as sheet:
        sheet.writestr("xl/workbook.xml", "<workbook/>")
    assert "binary content" in _refusal(archive.getvalue())
    assert "NUL bytes" in _refusal(b"customer,email\nacme,a\x00@acme.test\n")
    assert "NUL bytes" in _refusal("customer,email\n".encode("utf-16"))
    assert "control character" in _refusal(b"customer,email\nacme,a\x07@acme.test\n")
    assert "empty" in _refusal(b"  \n")


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_are_refused_on_their_row_naming_the_field(cell: str) -> None:
    text = f'customer,email,name\nacme,a@acme.test,"{cell}"\nacme,b@acme.test,Fine\n'
    table = parse_csv(text.encode(), kind="users")
    first, second = table.rows
    assert first.problem is not None and first.problem[0] == "name"
    assert "formula" in first.problem[1]
    assert second.problem is None


def test_too_many_cells_on_a_row_are_refused_on_that_row() -> None:
    table = parse_csv(b"customer,email\nacme,a@acme.test,extra\nacme,b@acme.test,\n", kind="users")
    assert table.rows[0].problem is not None and "3 cells" in table.rows[0].problem[1]
    assert table.rows[1].problem is None  # an empty trailing cell is harmless


def test_templates_hold_the_columns_of_api_md() -> None:
    assert template("users") == "customer,email,name,role,timezone,sla_policy\r\n"
    assert template("customers").startswith("name,slug,timezone,default_sla,business_hours,email_domains")
    assert template("cis").startswith("customer,name,type,parent,sla_policy,owner,attributes")


def test_exported_cells_never_start_a_formula() -> None:
    for dangerous in ("=1+1", "+49 30 1234", "-5", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(dangerous) == f"'{dangerous}"
    assert csv_cell("plain") == "plain" and csv_cell(None) == ""
    lines = "".join(csv_lines(["name", "=header"], [["=HYPERLINK(1)", 5]]))
    assert lines == "name,'=header\r\n'=HYPERLINK(1),5\r\n"
