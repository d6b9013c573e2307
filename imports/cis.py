"""Importing configuration items: one row per CI, found by name (ignoring case) within its
customer.

``parent`` names a CI of the same customer, already there or on any row of the file (before or
after the child). New CIs are created parents first, level by level, through
``cmdb.services.cis_create_many`` (a few statements per chunk, audited, asset counts moved);
known ones are changed through ``ci_update`` with the cells given (an empty cell leaves the
value as it is). A parent that is unknown, refused, retired or part of a loop refuses the row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from accounts.services import normalize_email
from cmdb.models import ConfigurationItem
from cmdb.services import CiChanges, NewCi, ci_check, ci_update, cis_create_many
from core.parsers import parse_json_text
from imports.csvfile import CsvTable, Row
from imports.models import Outcome
from imports.rows import (
    ROW_REFUSALS,
    Lookup,
    Refused,
    Run,
    chunks,
    refusal_of,
    unknown_customer,
    visible_customers,
)
from people.models import CustomerUser
from tenants.models import Customer
from tenants.schema import customer_schema

LOOKUP_BATCH = 5_000


@dataclass(frozen=True)
class CiRow:
    line: int
    key: str  # the name, case-folded
    parent_key: str  # the parent's name, case-folded ("" for none)
    new: NewCi
    given: frozenset[str]  # the optional cells that were filled


def import_cis(table: CsvTable, run: Run) -> None:
    customers = visible_customers(run.by, [row.values.get("customer", "") for row in table.rows])
    by_customer: dict[Customer, list[Row]] = defaultdict(list)
    for row in table.rows:
        slug = row.values.get("customer", "")
        if row.problem is not None:
            run.refuse(row.line, Refused(*row.problem))
        elif not slug:
            run.refuse(row.line, Refused("customer", "The customer's slug is required."))
        elif slug not in customers:
            run.refuse(row.line, unknown_customer(slug))
        else:
            by_customer[customers[slug]].append(row)
    lookup = Lookup()
    for customer, rows in by_customer.items():
        with customer_schema(customer):
            _CustomerCis(customer, run, lookup).import_rows(rows)


class _CustomerCis:
    """The rows of one customer, inside its schema."""

    def __init__(self, customer: Customer, run: Run, lookup: Lookup) -> None:
        self.customer, self.run, self.lookup = customer, run, lookup
        self.existing: dict[str, ConfigurationItem] = {}
        self.owners: dict[str, CustomerUser] = {}
        self.refused_lines: dict[str, int] = {}  # name (case-folded) -> the line of its refused row

    def import_rows(self, rows: list[Row]) -> None:
        self._load(rows)
        new: dict[str, CiRow] = {}
        updates: list[tuple[CiRow, ConfigurationItem]] = []
        first_of: dict[str, int] = {}
        for row in rows:
            try:
                read = self._read(row)
                if read.key in first_of:
                    raise Refused("name", f"A CI of this name is already on row {first_of[read.key]}.")
            except (Refused, *ROW_REFUSALS) as exc:
                self.run.refuse(row.line, refusal_of(exc))
                self.refused_lines.setdefault(row.values.get("name", "").casefold(), row.line)
                continue
            first_of[read.key] = read.line
            self.run.checked(read.line)
            if read.key in self.existing:
                updates.append((read, self.existing[read.key]))
            else:
                new[read.key] = read
        created = self._create(new)
        for read, ci in updates:
            self._update(read, ci, created)

    def _load(self, rows: list[Row]) -> None:
        names = {row.values.get(column, "").casefold() for row in rows for column in ("name", "parent")}
        names.discard("")
        wanted = sorted(names)
        for start in range(0, len(wanted), LOOKUP_BATCH):
            batch = wanted[start : start + LOOKUP_BATCH]
            for ci in ConfigurationItem.objects.annotate(key=Lower("name")).filter(key__in=batch):
                self.existing[ci.name.casefold()] = ci
        emails = {normalize_email(row.values.get("owner", "")) for row in rows} - {""}
        profiles = CustomerUser.objects.select_related("user").filter(user__email__in=emails)
        self.owners = {profile.user.email: profile for profile in profiles}

    def _read(self, row: Row) -> CiRow:
        if row.problem is not None:
            raise Refused(*row.problem)
        values = row.values
        given = frozenset(
            name for name in ("parent", "sla_policy", "owner", "attributes") if values.get(name)
        )
        owner = None
        if "owner" in given:
            owner = self.owners.get(normalize_email(values["owner"]))
            if owner is None:
                raise Refused("owner", f"No user with the email {values['owner'][:100]} in this customer.")
        attributes: Any = {}
        if "attributes" in given:
            attributes = parse_json_text(values["attributes"], field="attributes")
        new = NewCi(
            name=values.get("name", ""),
            type=values.get("type", ""),
            owner=owner,
            sla_policy=self.lookup.policy(values.get("sla_policy", "")),
            attributes=attributes,
        )
        try:
            new = ci_check(new)
        except ValidationError as exc:
            raise refusal_of(exc) from None
        key, parent_key = new.name.casefold(), values.get("parent", "").casefold()
        if parent_key and parent_key == key:
            raise Refused("parent", f"{new.name} cannot be its own parent.")
        return CiRow(line=row.line, key=key, parent_key=parent_key, new=new, given=given)

    def _levels(self, new: dict[str, CiRow]) -> list[list[CiRow]]:
        """The new CIs by depth below what exists (parents first); rows whose parent is unknown,
        refused or retired, or whose parents loop, are refused here. Walks each chain upwards
        once (no recursion: a file may hold a chain thousands of levels deep)."""
        depth: dict[str, int] = {}
        refused: dict[str, Refused] = {}
        for start in new.values():
            path: list[CiRow] = []
            current = start
            while current.key not in depth and current.key not in refused:
                if any(read.key == current.key for read in path):
                    for read in path:
                        refused[read.key] = Refused("parent", f"The parents of row {read.line} loop back.")
                    path = []
                    break
                path.append(current)
                above = self._resolve_up(current, new, depth, refused)
                if above is None:
                    path.pop()
                    break
                current = above
            for read in reversed(path):
                if read.parent_key in depth:
                    depth[read.key] = depth[read.parent_key] + 1
                else:
                    line = new[read.parent_key].line
                    refused[read.key] = Refused("parent", f"Its parent (row {line}) is refused.")
        levels: dict[int, list[CiRow]] = defaultdict(list)
        for read in new.values():
            if read.key in refused:
                self.run.refuse(read.line, refused[read.key])
            else:
                levels[depth[read.key]].append(read)
        return [levels[level] for level in sorted(levels)]

    def _resolve_up(
        self, read: CiRow, new: dict[str, CiRow], depth: dict[str, int], refused: dict[str, Refused]
    ) -> CiRow | None:
        """The row of ``read``'s parent in the file, or None once ``read`` is placed (its parent
        exists, or it has none) or refused."""
        parent = read.parent_key
        if parent and parent not in self.existing:
            above = new.get(parent)
            if above is None:
                refused[read.key] = self._unknown_parent(parent)
            return above
        ci = self.existing.get(parent) if parent else None
        if ci is not None and ci.is_retired:
            refused[read.key] = Refused("parent", f"{ci.name} is retired and cannot take new children.")
        else:
            depth[read.key] = 0
        return None

    def _unknown_parent(self, key: str) -> Refused:
        if key in self.refused_lines:
            return Refused("parent", f"Its parent (row {self.refused_lines[key]}) is refused.")
        return Refused("parent", f"No CI named '{key[:100]}' in this customer or this file.")

    def _create(self, new: dict[str, CiRow]) -> dict[str, ConfigurationItem]:
        created: dict[str, ConfigurationItem] = {}
        for level in self._levels(new):
            for part in chunks(level):
                checked = [replace(read.new, parent=self._parent(read.parent_key, created)) for read in part]
                cis = cis_create_many(customer=self.customer, by=self.run.by, checked=checked)
                for read, ci in zip(part, cis, strict=True):
                    created[read.key] = ci
                    self.run.done(read.line, Outcome.CREATE)
        return created

    def _parent(self, key: str, created: dict[str, ConfigurationItem]) -> ConfigurationItem | None:
        if not key:
            return None
        return created.get(key) or self.existing[key]

    def _update(self, read: CiRow, ci: ConfigurationItem, created: dict[str, ConfigurationItem]) -> None:
        try:
            changes = self._changes(read, ci, created)
            if not changes:
                self.run.done(read.line, Outcome.UNCHANGED)
                return
            with transaction.atomic():  # a refused row leaves nothing behind
                ci_update(customer=self.customer, ci=ci, by=self.run.by, changes=changes)
        except (Refused, *ROW_REFUSALS) as exc:
            self.run.refuse(read.line, refusal_of(exc))
            return
        self.run.done(read.line, Outcome.UPDATE, ", ".join(changes.given()))

    def _changes(
        self, read: CiRow, ci: ConfigurationItem, created: dict[str, ConfigurationItem]
    ) -> CiChanges:
        new, wanted = read.new, dict[str, Any]()
        if new.type != ci.type:
            wanted["type"] = new.type
        if "parent" in read.given:
            if read.parent_key not in created and read.parent_key not in self.existing:
                raise Refused(
                    "parent", f"No CI named '{read.parent_key[:100]}' in this customer or this file."
                )
            parent = self._parent(read.parent_key, created)
            if parent is not None and parent.pk != ci.parent_id:
                wanted["parent"] = parent
        if "owner" in read.given and new.owner is not None and new.owner.pk != ci.owner_id:
            wanted["owner"] = new.owner
        if (
            "sla_policy" in read.given
            and new.sla_policy is not None
            and new.sla_policy.pk != ci.sla_policy_id
        ):
            wanted["sla_policy"] = new.sla_policy
        if "attributes" in read.given and new.attributes != ci.attributes:
            wanted["attributes"] = new.attributes
        return CiChanges(**wanted)
