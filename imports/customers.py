"""Importing customers: one row per customer, found by slug.

A new slug is provisioned (``tenants.services.customer_provision``: its schema, domain, settings
and mail domains, one row at a time since each clones a schema); a known one is changed through
``customer_update`` with the cells given (an empty cell leaves the value as it is), or left
unchanged. A slug that appears twice in the file is refused on its second row. Policies and
profiles are named by name or id; mail domains are separated by ``;``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from imports.csvfile import CsvTable, Row
from imports.models import Outcome
from imports.rows import ROW_REFUSALS, Lookup, Refused, Run, refusal_of, visible_customers
from tenants.models import Customer
from tenants.services import CustomerChanges, customer_email_domains, customer_provision, customer_update
from tenants.validators import validate_slug


def _domains(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _given(row: Row, lookup: Lookup) -> dict[str, Any]:
    """The row's non-empty cells as the services take them."""
    values = row.values
    given: dict[str, Any] = {}
    for name in ("name", "timezone"):
        if values.get(name):
            given[name] = values[name]
    if values.get("default_sla"):
        given["default_sla"] = lookup.policy(values["default_sla"], field="default_sla")
    if values.get("business_hours"):
        given["business_hours"] = lookup.business_hours(values["business_hours"])
    if values.get("email_domains"):
        given["email_domains"] = _domains(values["email_domains"])
    return given


def _slug(row: Row) -> str:
    slug = row.values.get("slug", "")
    if not slug:
        raise Refused("slug", "A slug is required.")
    try:
        validate_slug(slug)
    except ValidationError as exc:
        raise Refused("slug", " ".join(exc.messages)) from None
    return slug


def import_customers(table: CsvTable, run: Run) -> None:
    lookup = Lookup()
    existing = visible_customers(run.by, [row.values.get("slug", "") for row in table.rows])
    first_of: dict[str, int] = {}
    for row in table.rows:
        try:
            if row.problem is not None:
                raise Refused(*row.problem)
            slug = _slug(row)
            if slug in first_of:
                raise Refused("slug", f"Duplicate slug: '{slug}' is already on row {first_of[slug]}.")
            first_of[slug] = row.line
            given = _given(row, lookup)
            with transaction.atomic():  # a refused row leaves nothing behind
                outcome, message = _apply(slug, existing.get(slug), given)
        except (Refused, *ROW_REFUSALS) as exc:
            run.refuse(row.line, refusal_of(exc))
            continue
        run.done(row.line, outcome, message)


def _apply(slug: str, customer: Customer | None, given: dict[str, Any]) -> tuple[str, str]:
    if customer is None:
        if "name" not in given:
            raise Refused("name", "A new customer needs a name.")
        customer_provision(
            name=given["name"],
            slug=slug,
            timezone_name=given.get("timezone", "UTC"),
            default_sla=given.get("default_sla"),
            business_hours=given.get("business_hours"),
            email_domains=given.get("email_domains", ()),
        )
        return Outcome.CREATE, ""
    current: dict[str, Any] = {
        "name": customer.name,
        "timezone": customer.timezone,
        "default_sla": customer.default_sla,
        "business_hours": customer.business_hours,
        "email_domains": customer_email_domains(customer),
    }
    if "email_domains" in given:
        given["email_domains"] = sorted({domain.lower().rstrip(".") for domain in given["email_domains"]})
        current["email_domains"] = sorted(current["email_domains"])
    changes = {name: value for name, value in given.items() if value != current[name]}
    if not changes:
        return Outcome.UNCHANGED, ""
    customer_update(customer=customer, changes=CustomerChanges(**changes))
    return Outcome.UPDATE, ", ".join(changes)
