"""The service report as people read it (the console page, the printable page and the PDF):
its charts (``core.charts``) and its figures in words and hours."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from core.charts import Chart, bars

PERCENT_FIGURES = ("first_response_met_pct", "resolution_met_pct")


def hours(minutes: int | None) -> str:
    """Minutes as hours with two decimals ("1.50 h"); empty for none."""
    if minutes is None:
        return ""
    return f"{Decimal(minutes) / 60:.2f} h"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


def _week_label(week: dict[str, Any]) -> str:
    first, last = date.fromisoformat(week["from"]), date.fromisoformat(week["to"])
    return f"{first.day}-{last.day}" if first != last else f"{first.day}"


def charts(report: dict[str, Any]) -> dict[str, Chart]:
    weeks = report["tickets_per_week"]
    total = sum(week["tickets"] for week in weeks)
    weekly = bars(
        "tickets-per-week",
        [_week_label(week) for week in weeks],
        {"Tickets created": [week["tickets"] for week in weeks]},
        whole=True,
        summary=f"{total} tickets created in {report['month']}, by week: "
        + ", ".join(f"{_week_label(week)}: {week['tickets']}" for week in weeks),
    )
    lines = report["sla_by_priority"]
    sla = bars(
        "sla-met-by-priority",
        [line["priority"] for line in lines],
        {
            "First response met": [line["first_response_met_pct"] for line in lines],
            "Resolution met": [line["resolution_met_pct"] for line in lines],
        },
        percent=True,
        empty="No SLA clock ended this month",
        summary="SLA met per priority: "
        + "; ".join(
            f"{line['priority']} first response {pct(line['first_response_met_pct'])}, "
            f"resolution {pct(line['resolution_met_pct'])}"
            for line in lines
        ),
    )
    agents = report["time_by_agent"]
    time = bars(
        "time-per-agent",
        [agent["name"] for agent in agents] or ["nobody"],
        {
            "Billable hours": [round(agent["billable_minutes"] / 60, 2) for agent in agents] or [0],
            "Other hours": [round((agent["minutes"] - agent["billable_minutes"]) / 60, 2) for agent in agents]
            or [0],
        },
        summary="Time per agent: "
        + (", ".join(f"{agent['name']} {hours(agent['minutes'])}" for agent in agents) or "no time logged"),
    )
    return {"weekly": weekly, "sla": sla, "time": time}


def report_context(report: dict[str, Any]) -> dict[str, Any]:
    figures = report["figures"]
    return {
        "report": report,
        "month_label": date.fromisoformat(f"{report['month']}-01").strftime("%B %Y"),
        "figures": figures,
        "charts": charts(report),
        "first_response_met": pct(figures["first_response_met_pct"]),
        "resolution_met": pct(figures["resolution_met_pct"]),
        "time_hours": hours(figures["time_minutes"]),
        "billable_hours": hours(figures["billable_minutes"]),
        "assets_total": sum(figures["assets"].values()),
        "time_by_agent": [
            agent | {"hours": hours(agent["minutes"]), "billable_hours": hours(agent["billable_minutes"])}
            for agent in report["time_by_agent"]
        ],
        "time_by_ticket": [
            ticket | {"hours": hours(ticket["minutes"])} for ticket in report["time_by_ticket"]
        ],
        "contracts": [
            contract | {"balance": hours(contract["balance_minutes_at_month_end"])}
            for contract in report["contracts"]
        ],
        "sla_lines": [
            line | {"fr": pct(line["first_response_met_pct"]), "res": pct(line["resolution_met_pct"])}
            for line in report["sla_by_priority"]
        ],
        "csat": figures["csat"],
    }
