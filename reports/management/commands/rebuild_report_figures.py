"""Check the monthly figures against the tickets, customer by customer, and repair what drifted.

    manage.py rebuild_report_figures --month 2026-11           repair: rewrite the ticket index rows
                                                               whose month facts drifted
    manage.py rebuild_report_figures --month 2026-11 --check   only report; exit code 1 on drift

The API's figures come from the ticket index (``reports.figures``: one statement per figure for
every customer). This command derives the same figures another way, for one customer at a time:
it reads every ticket of the customer's schema, computes its month facts from its SLA timeline
(``tickets.index.services.month_facts``) and counts them in Python. Where the two disagree it
names the figures; repairing rewrites the customer's drifted index rows (as rebuild_ticket_index
does) so the next read agrees.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from core.parsers import parse_month
from reports.figures import bounds_of, month_key, monthly_figures
from tenants.commands import CustomerRepairCommand
from tenants.models import Customer
from tickets.index.services import index_compare, index_repair, month_facts
from tickets.models import Ticket

COMPARED = (
    "tickets_created",
    "tickets_resolved",
    "open_tickets",
    "first_response_clocks_ended",
    "first_response_met_pct",
    "resolution_clocks_ended",
    "resolution_met_pct",
    "breaches",
)


def figures_from_tickets(customer: Customer, month: date) -> dict[str, Any]:
    """The ticket figures of ``month``, counted in Python from the tickets themselves."""
    bounds, key = bounds_of(customer, month), month_key(month)
    start, end = bounds.start, bounds.end
    counts = dict.fromkeys(("created", "resolved", "open", "breaches"), 0)
    ended = {"first_response": [0, 0], "resolution": [0, 0]}
    for ticket in Ticket.objects.select_related("requester_user").iterator(chunk_size=2000):
        facts = month_facts(customer, ticket, None)
        counts["created"] += start <= ticket.created_at < end
        last = facts["last_resolved_at"]
        counts["resolved"] += (last is not None and start <= last < end) or key in facts[
            "earlier_resolved_months"
        ]
        stopped = any(
            span.lower <= end and (span.upper is None or end < span.upper) for span in facts["stopped_spans"]
        )
        counts["open"] += ticket.created_at < end and facts["active_until"] >= end and not stopped
        for clock in ended:
            at, breached = facts[f"{clock}_ended_at"], facts[f"{clock}_breached_at"]
            if at is not None and start <= at < end:
                ended[clock][0] += 1
                ended[clock][1] += breached is None
            counts["breaches"] += breached is not None and start <= breached < end

    def pct(met: int, n: int) -> float | None:
        return None if n == 0 else round(100 * met / n, 1)

    return {
        "tickets_created": counts["created"],
        "tickets_resolved": counts["resolved"],
        "open_tickets": counts["open"],
        "first_response_clocks_ended": ended["first_response"][0],
        "first_response_met_pct": pct(ended["first_response"][1], ended["first_response"][0]),
        "resolution_clocks_ended": ended["resolution"][0],
        "resolution_met_pct": pct(ended["resolution"][1], ended["resolution"][0]),
        "breaches": counts["breaches"],
    }


class Command(CustomerRepairCommand):
    help = "Check the monthly figures against the tickets and repair the index rows that drifted."
    job = "reports.rebuild_report_figures"
    month: date

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--month", help="YYYY-MM (default: the current month, UTC).")

    def handle(self, *args: Any, month: str | None = None, **options: Any) -> None:
        try:
            self.month = parse_month(month, field="month") if month else timezone.now().date().replace(day=1)
        except ValidationError as exc:
            raise CommandError(f"--month: {' '.join(exc.messages)}") from None
        super().handle(*args, **options)

    def drift_of(self, customer: Customer, *, repair: bool) -> str | None:
        served = monthly_figures([customer], self.month)[customer.pk]
        counted = figures_from_tickets(customer, self.month)
        wrong = [
            f"{name} {served[name]} (tickets say {counted[name]})"
            for name in COMPARED
            if served[name] != counted[name]
        ]
        if not wrong:
            return None
        if repair:
            drift, to_write = index_compare(customer=customer)
            index_repair(customer=customer, to_write=to_write, orphaned=drift.orphaned)
        return f"{self.month:%Y-%m}: " + ", ".join(wrong)
