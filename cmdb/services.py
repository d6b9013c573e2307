"""Every change to a customer's CMDB, for every channel (API, console, imports).

Each workflow runs inside the customer's schema in one transaction that also moves the
public asset counts. Parent changes take a per-customer lock before checking the chain, so
two concurrent edits cannot build a loop between them (each would see the other's chain only
after it commits).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, ProtectedError
from django.utils import timezone

from accounts.models import User
from audit.bulk import create_entries
from audit.models import AuditEntry
from cmdb.inventory.services import Key, counts_shift
from cmdb.models import MAX_NAME, CiRelation, CiStatus, CiType, ConfigurationItem, RelationKind
from cmdb.selectors import chain_up
from core.changes import UNSET, Changes
from core.errors import RuleViolation
from people.models import CustomerUser
from sla.models import SlaPolicy
from tenants.access import require_sets_policies
from tenants.models import Customer
from tenants.schema import require_schema

MAX_ATTRIBUTES_BYTES = 16_384
MAX_ATTRIBUTES_KEYS = 100
# Advisory-lock class for "the CI hierarchy of the customer in this schema" (second key: schema).
_HIERARCHY_LOCK = 4_410_001


def _require_agent(by: User | None) -> None:
    if by is not None and not by.is_agent_level:
        raise PermissionDenied(
            "Customer users see the CMDB read-only; ask your service provider to change it."
        )


def _clean_name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError({"name": ["A CI needs a name."]})
    if len(name) > MAX_NAME:
        raise ValidationError({"name": [f"At most {MAX_NAME} characters (got {len(name)})."]})
    return name


def _name_taken(name: str) -> ValidationError:
    return ValidationError({"name": [f"This customer already has a CI named '{name}' (names ignore case)."]})


def _check_name_free(name: str, *, except_id: int | None = None) -> None:
    others = ConfigurationItem.objects.filter(name__iexact=name)
    taken = (others.exclude(pk=except_id) if except_id is not None else others).first()
    if taken is not None:
        raise _name_taken(taken.name)


def _check_choice(value: str, *, field_name: str, choices: list[str]) -> None:
    if value not in choices:
        raise ValidationError({field_name: [f"'{value}' is not valid; use one of {', '.join(choices)}."]})


def clean_attributes(value: Any) -> dict[str, Any]:
    """Free-form attributes: a JSON object of at most ``MAX_ATTRIBUTES_KEYS`` keys and
    ``MAX_ATTRIBUTES_BYTES`` bytes once encoded."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"attributes": ['Give a JSON object, e.g. {"os": "Debian 12"}.']})
    if len(value) > MAX_ATTRIBUTES_KEYS:
        raise ValidationError({"attributes": [f"At most {MAX_ATTRIBUTES_KEYS} keys (got {len(value)})."]})
    for key in value:
        if not str(key).strip() or len(str(key)) > 100:
            raise ValidationError({"attributes": ["Keys are 1 to 100 characters long."]})
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValidationError({"attributes": [f"At most {MAX_ATTRIBUTES_BYTES} bytes of JSON (got {size})."]})
    return value


def _check_owner(owner: CustomerUser | None) -> None:
    if owner is not None and not owner.user.is_active:
        raise ValidationError({"owner": ["That user is deactivated."]})


def _lock_hierarchy() -> None:
    """Every workflow that can change a parent link takes this first, before any row lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [_HIERARCHY_LOCK])


def _check_parent(ci: ConfigurationItem | None, parent: ConfigurationItem | None) -> None:
    """A parent of the same customer (the schema guarantees it), not retired, and not the CI
    itself or anything below it. The caller holds the hierarchy lock (``_lock_hierarchy``)."""
    if parent is None:
        return
    if ci is not None and parent.pk == ci.pk:
        raise RuleViolation("parent_loop", f"{ci.name} cannot be its own parent.", field="parent")
    # Re-read under the lock: a concurrent edit may have committed since the caller loaded it.
    current = ConfigurationItem.objects.filter(pk=parent.pk).first()
    if current is None:
        raise ValidationError({"parent": ["That parent CI no longer exists."]})
    if current.is_retired:
        raise ValidationError({"parent": [f"{current.name} is retired and cannot take new children."]})
    if ci is None:
        return
    chain = chain_up(parent.pk)  # parent, grandparent, ... as (id, name, depth)
    ids = [ci_id for ci_id, _, _ in chain]
    if ci.pk in ids:
        below = " → ".join(name for _, name, _ in reversed(chain[: ids.index(ci.pk) + 1]))
        raise RuleViolation(
            "parent_loop",
            f"{parent.name} cannot be the parent of {ci.name}: {parent.name} is already below "
            f"{ci.name} ({below}), and a parent chain cannot loop.",
            field="parent",
        )


@dataclass(frozen=True)
class NewCi:
    name: str
    type: str
    status: str = CiStatus.ACTIVE
    owner: CustomerUser | None = None
    parent: ConfigurationItem | None = None
    sla_policy: SlaPolicy | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def ci_check(new: NewCi) -> NewCi:
    """The new CI as it is stored (name trimmed, attributes checked), or ValidationError naming
    the first wrong field. Whether the name is free and the parent may take it is checked when
    it is created, under the hierarchy lock."""
    name = _clean_name(new.name)
    _check_choice(new.type, field_name="type", choices=CiType.values)
    _check_choice(new.status, field_name="status", choices=CiStatus.values)
    _check_owner(new.owner)
    return replace(new, name=name, attributes=clean_attributes(new.attributes))


def _new_ci(new: NewCi) -> ConfigurationItem:
    return ConfigurationItem(
        name=new.name,
        type=new.type,
        status=new.status,
        owner=new.owner,
        parent=new.parent,
        sla_policy=new.sla_policy,
        attributes=new.attributes,
        retired_at=timezone.now() if new.status == CiStatus.RETIRED else None,
    )


def ci_create(*, customer: Customer, by: User | None, new: NewCi) -> ConfigurationItem:
    require_schema(customer, "configuration items")
    _require_agent(by)
    if new.sla_policy is not None:
        require_sets_policies(by)
    new = ci_check(new)
    _check_name_free(new.name)
    with transaction.atomic():
        if new.parent is not None:
            _lock_hierarchy()
        _check_parent(None, new.parent)
        ci = _new_ci(new)
        _save_unique(ci)
        counts_shift(customer=customer, delta=Counter({(ci.type, ci.status): 1}))
    return ci


def cis_create_many(*, customer: Customer, by: User | None, checked: list[NewCi]) -> list[ConfigurationItem]:
    """Many new CIs of one customer at once (imports), with the rules of ``ci_create``: fields
    through ``ci_check``, parents saved before (a file's deeper levels come in later calls) and
    not retired, names free (the unique index refuses a race as a whole, as a 400). A few
    statements for all of them, audited as ``save()`` would be."""
    require_schema(customer, "configuration items")
    _require_agent(by)
    if any(new.sla_policy is not None for new in checked):
        require_sets_policies(by)
    parents = {new.parent.pk for new in checked if new.parent is not None}
    with transaction.atomic():
        if parents:
            _lock_hierarchy()
            retired = ConfigurationItem.objects.filter(pk__in=parents, status=CiStatus.RETIRED).first()
            if retired is not None:
                raise ValidationError(
                    {"parent": [f"{retired.name} is retired and cannot take new children."]}
                )
        cis = [_new_ci(new) for new in checked]
        try:
            with transaction.atomic():
                ConfigurationItem.objects.bulk_create(cis)
        except IntegrityError as exc:
            if "cmdb_ci_name_unique" in str(exc):
                raise ValidationError(
                    {"name": ["A CI of this name was just created by someone else."]}
                ) from exc
            raise
        counts_shift(customer=customer, delta=Counter((ci.type, ci.status) for ci in cis))
        AuditEntry.objects.bulk_create(create_entries(cis))
    return cis


def _save_unique(ci: ConfigurationItem) -> None:
    """Save; a concurrent CI that took the name first makes this a 400, not a 500."""
    try:
        with transaction.atomic():
            ci.save()
    except IntegrityError as exc:
        if "cmdb_ci_name_unique" in str(exc):
            raise _name_taken(ci.name) from exc
        raise


@dataclass(frozen=True)
class CiChanges(Changes):
    """A partial update (``core.changes``): fields left UNSET are not touched."""

    name: str = UNSET
    type: str = UNSET
    status: str = UNSET
    owner: CustomerUser | None = UNSET
    parent: ConfigurationItem | None = UNSET
    sla_policy: SlaPolicy | None = UNSET
    attributes: dict[str, Any] = UNSET


def ci_update(
    *, customer: Customer, ci: ConfigurationItem, by: User | None, changes: CiChanges
) -> ConfigurationItem:
    """Rename, retype, change status (retiring keeps history and ticket links), owner, parent,
    SLA policy or attributes."""
    require_schema(customer, "configuration items")
    _require_agent(by)
    wanted = changes.given()
    if "sla_policy" in wanted:
        require_sets_policies(by)
    if "name" in wanted:
        wanted["name"] = _clean_name(wanted["name"])
        _check_name_free(wanted["name"], except_id=ci.pk)
    if "type" in wanted:
        _check_choice(wanted["type"], field_name="type", choices=CiType.values)
    if "status" in wanted:
        _check_choice(wanted["status"], field_name="status", choices=CiStatus.values)
    if "owner" in wanted:
        _check_owner(wanted["owner"])
    if "attributes" in wanted:
        wanted["attributes"] = clean_attributes(wanted["attributes"])
    with transaction.atomic():
        if "parent" in wanted:
            # The hierarchy lock before any row lock, in every workflow: the parent's foreign-key
            # check share-locks the parent row, which a concurrent edit of it may hold.
            _lock_hierarchy()
        ci = ConfigurationItem.objects.select_for_update().get(pk=ci.pk)
        before: Key = (ci.type, ci.status)
        if "parent" in wanted and wanted["parent"] != ci.parent:
            _check_parent(ci, wanted["parent"])
        if "status" in wanted and wanted["status"] != ci.status:
            ci.retired_at = timezone.now() if wanted["status"] == CiStatus.RETIRED else None
        for name, value in wanted.items():
            setattr(ci, name, value)
        _save_unique(ci)
        after: Key = (ci.type, ci.status)
        if after != before:
            counts_shift(customer=customer, delta=Counter({before: -1, after: 1}))
    return ci


def ci_delete(*, customer: Customer, ci: ConfigurationItem, by: User | None) -> None:
    """Delete a CI nothing refers to. CIs that tickets or child CIs reference are refused:
    retire them instead, which keeps their history and links."""
    require_schema(customer, "configuration items")
    _require_agent(by)
    with transaction.atomic():
        _lock_hierarchy()  # no child can be attached while we look
        ci = ConfigurationItem.objects.select_for_update().get(pk=ci.pk)
        children = ci.children.count()
        if children:
            raise RuleViolation(
                "ci_has_children",
                f"{ci.name} is the parent of {children} CI{'s' if children != 1 else ''}; "
                "move or delete them first, or retire it instead.",
                status=409,
            )
        key: Key = (ci.type, ci.status)
        try:
            with transaction.atomic():
                ci.delete()
        except ProtectedError as exc:  # what links to a CI protects it (tickets: on_delete=PROTECT)
            raise RuleViolation("ci_in_use", _in_use(ci, exc.protected_objects), status=409) from None
        counts_shift(customer=customer, delta=Counter({key: -1}))


def _in_use(ci: ConfigurationItem, protected: Iterable[Model]) -> str:
    """ "fw-01 is linked to 2 tickets; retire it instead ...", naming what links to it."""
    counts = Counter(str(row._meta.verbose_name) for row in protected)
    links = ", ".join(f"{n} {name}{'s' if n != 1 else ''}" for name, n in sorted(counts.items()))
    return (
        f"{ci.name} is linked to {links}; "
        "retire it instead (retired CIs keep their history and ticket links)."
    )


def ci_relate(
    *,
    customer: Customer,
    source: ConfigurationItem,
    target: ConfigurationItem,
    kind: str,
    by: User | None,
) -> CiRelation:
    """``source`` <kind> ``target``, both of this customer."""
    require_schema(customer, "configuration items")
    _require_agent(by)
    _check_choice(kind, field_name="kind", choices=RelationKind.values)
    if source.pk == target.pk:
        raise ValidationError({"target": [f"{source.name} cannot be related to itself."]})
    label = RelationKind(kind).label
    if CiRelation.objects.filter(source=source, target=target, kind=kind).exists():
        raise ValidationError({"target": [f"{source.name} already {label} {target.name}."]})
    try:
        with transaction.atomic():
            return CiRelation.objects.create(source=source, target=target, kind=kind)
    except IntegrityError as exc:  # the same relation added concurrently
        raise ValidationError({"target": [f"{source.name} already {label} {target.name}."]}) from exc


def ci_unrelate(*, customer: Customer, relation: CiRelation, by: User | None) -> None:
    require_schema(customer, "configuration items")
    _require_agent(by)
    relation.delete()
