"""A contract's prepaid block as people read it (the console's contract page and the portal)."""

from __future__ import annotations

from typing import Any

from contracts import services
from contracts.models import Contract
from reports.presenters import hours


def ledger_context(contract: Contract) -> dict[str, Any]:
    """The balance and the movements with the balance after each (the console and the portal)."""
    balance = services.balance_of(contract)
    running = 0
    entries = []
    for entry in services.ledger_of(contract).select_related("by"):
        running += entry.minutes
        entries.append({"entry": entry, "minutes": hours(entry.minutes), "after": hours(running)})
    return {
        "balance": balance,
        "balance_text": hours(balance.minutes),
        "overage_text": hours(balance.overage),
        "entries": entries,
    }
