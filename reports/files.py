"""The service report as files: CSV (one row per figure, formula-safe cells) and a PDF made on the
server by WeasyPrint from the same page people print from the console (``reports/print.html``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from core.csvfiles import csv_lines
from reports.presenters import report_context

CSV_HEADER = ("section", "item", "figure", "value")
PDF_STYLE = "serviflow/report-pdf.css"


def csv_rows(report: dict[str, Any]) -> Iterator[tuple[object, ...]]:
    figures = report["figures"]
    for name, value in figures.items():
        if isinstance(value, dict):
            for key, item in value.items():
                yield ("figures", name, key, "" if item is None else item)
        else:
            yield ("figures", "", name, "" if value is None else value)
    for week in report["tickets_per_week"]:
        yield ("tickets_per_week", f"{week['from']}..{week['to']}", "tickets", week["tickets"])
    for line in report["sla_by_priority"]:
        for key, value in line.items():
            if key != "priority":
                yield ("sla_by_priority", line["priority"], key, "" if value is None else value)
    for ticket in report["breached_tickets"]:
        yield (
            "breached_tickets",
            ticket["reference"],
            ticket["clock"],
            f"{ticket['breached_at']} {ticket['policy']}",
        )
    for agent in report["time_by_agent"]:
        yield ("time_by_agent", agent["name"], "minutes", agent["minutes"])
        yield ("time_by_agent", agent["name"], "billable_minutes", agent["billable_minutes"])
    for ticket in report["time_by_ticket"]:
        yield ("time_by_ticket", ticket["reference"], "minutes", ticket["minutes"])
    for ticket in report.get("request_fields", []):  # reports issued before request types lack it
        yield ("request_fields", ticket["reference"], "request_type", ticket["request_type"])
        for field in ticket["fields"]:
            yield ("request_fields", ticket["reference"], field["key"], field["value"])
    for contract in report["contracts"]:
        balance = contract["balance_minutes_at_month_end"]
        yield (
            "contracts",
            contract["name"],
            "balance_minutes_at_month_end",
            "" if balance is None else balance,
        )


def report_csv(report: dict[str, Any]) -> bytes:
    return "".join(csv_lines(CSV_HEADER, csv_rows(report))).encode()


def report_pdf(report: dict[str, Any]) -> bytes:
    """The printable page as a PDF (WeasyPrint; charts are SVG images inside it)."""
    from weasyprint import CSS, HTML  # imported when used: it loads Pango

    html = render_to_string("reports/print.html", report_context(report))
    sheet = finders.find(PDF_STYLE)
    if not isinstance(sheet, str):
        raise RuntimeError(f"the report's style sheet {PDF_STYLE} is missing")
    return bytes(HTML(string=html).write_pdf(stylesheets=[CSS(filename=sheet)]))
