"""What a person may read of a customer's CMDB, and the effective SLA policy of CIs.

Agents (provider staff, the customer's own agents) and the customer's admins see every CI;
other customer users see the CIs they own. A CI outside someone's reach is "not found".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404, QueryDict

from accounts.models import CustomerRole
from audit.models import AuditEntry
from cmdb.models import MAX_NAME, CiRelation, CiStatus, CiType, ConfigurationItem
from core.parsers import parse_id_or_name
from sla.models import SlaPolicy
from tenants.access import CustomerAccess

# A parent chain cannot loop (services refuse it); this bound only keeps a damaged chain from
# recursing for ever.
MAX_DEPTH = 1000


def sees_all_cis(access: CustomerAccess) -> bool:
    return access.works_tickets or access.customer_role == CustomerRole.ADMIN


def cis_visible(access: CustomerAccess) -> QuerySet[ConfigurationItem]:
    cis = ConfigurationItem.objects.select_related("owner__user", "parent")
    if not sees_all_cis(access):
        cis = cis.filter(owner__user=access.user)
    return cis


def ci_for(access: CustomerAccess, ci_id: int | str) -> ConfigurationItem:
    try:
        return cis_visible(access).get(pk=int(ci_id))
    except (ConfigurationItem.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


LIST_PAGE_SIZE = 50


def ci_listing(access: CustomerAccess, cis: QuerySet[ConfigurationItem], params: QueryDict) -> dict[str, Any]:
    """One page of ``cis`` (the visible CIs, filtered) as the console and portal show it: the
    page, its rows with their effective policies (one query for the page), and the query
    string without the page."""
    page = Paginator(cis, LIST_PAGE_SIZE).get_page(params.get("page"))
    shown = list(page.object_list)
    effective = effective_policies_seen(access, shown)
    query = params.copy()
    query.pop("page", None)
    return {"page": page, "rows": [(ci, effective[ci.pk]) for ci in shown], "query": query.urlencode()}


def ci_from(access: CustomerAccess, value: object, *, field: str = "ci") -> ConfigurationItem | None:
    """A CI the caller may see, by id or by name (names are unique per customer), for a field
    that refers to one; None for an empty value. Anything else is a 400 naming the field. A
    caller whose access leaves the CMDB out is refused (403 naming the scope) before anything is
    looked up, so that no answer tells which names exist."""
    if value in (None, ""):
        return None
    access.require_scope("cmdb", write=False)
    wanted = parse_id_or_name(value, field=field, max_length=MAX_NAME)
    if wanted is None:
        return None
    cis = cis_visible(access)
    ci = (
        cis.filter(pk=wanted.id).first()
        if wanted.id is not None
        else cis.filter(name__iexact=wanted.name).first()
    )
    if ci is None:
        shown = wanted.id if wanted.id is not None else str(wanted.name)[:60]
        raise ValidationError({field: [f"No CI '{shown}' in this customer (give a CI id or name)."]})
    return ci


@dataclass(frozen=True)
class EffectivePolicy:
    """Which SLA policy a CI's chain gives and why. ``decided_by`` is the CI that holds the policy
    (the CI itself or an ancestor ``depth`` levels up); all None when no CI in the chain has one."""

    ci_name: str
    policy_id: int | None
    policy_name: str | None
    decided_by_id: int | None
    decided_by_name: str | None
    depth: int | None

    @property
    def inherited(self) -> bool:
        return bool(self.depth)

    @property
    def reason(self) -> str:
        if self.policy_id is None:
            return f"{self.ci_name} has no SLA policy and no parent with one"
        if not self.depth:
            return f"{self.ci_name} has its own policy '{self.policy_name}'"
        holder = self.decided_by_name or UNSEEN_CI
        if self.depth == 1:
            return f"{self.ci_name} inherits '{self.policy_name}' from parent {holder}"
        return f"{self.ci_name} inherits '{self.policy_name}' from ancestor {holder} ({self.depth} levels up)"

    def seen_by(self, named: Collection[int]) -> EffectivePolicy:
        """As a reader who may see the CIs ``named`` by name: an ancestor outside them that
        decides is not named (``decided_by_name`` None, "a CI you cannot see" in the reason)."""
        if self.decided_by_id is None or self.decided_by_id in named:
            return self
        return replace(self, decided_by_name=None)

    def as_dict(self) -> dict[str, object]:
        """The API's ``effective_sla``: ``{policy, source, reason}`` and the deciding CI (its
        name null when the reader may not see it)."""
        found = self.policy_id is not None
        return {
            "policy": {"id": self.policy_id, "name": self.policy_name} if found else None,
            "source": "ci" if found else None,
            "reason": self.reason,
            "ci": {"id": self.decided_by_id, "name": self.decided_by_name} if found else None,
            "inherited": self.inherited if found else False,
            "depth": self.depth,
        }


# How a CI that a customer's user may not open appears to them (in a location chain, a reason).
UNSEEN_CI = "a CI you cannot see"


def named_cis(access: CustomerAccess, ids: Iterable[int | None]) -> frozenset[int]:
    """Of ``ids``, the CIs ``access`` may see by name: the ones they may open (``cis_visible``).
    Who sees every CI costs no query; a customer user one, whatever the number of ids."""
    wanted = {ci_id for ci_id in ids if ci_id is not None}
    if sees_all_cis(access) or not wanted:
        return frozenset(wanted)
    return frozenset(cis_visible(access).filter(pk__in=wanted).values_list("pk", flat=True))


def effective_policies_seen(
    access: CustomerAccess, cis: Iterable[ConfigurationItem]
) -> dict[int, EffectivePolicy]:
    """``effective_policies`` as ``access`` may read them (``EffectivePolicy.seen_by``)."""
    return names_seen(access, list(cis))[0]


def names_seen(
    access: CustomerAccess, cis: list[ConfigurationItem]
) -> tuple[dict[int, EffectivePolicy], frozenset[int]]:
    """For a page of CIs: their effective policies as ``access`` may read them, and which of
    the CIs their rows refer to (parents, deciding ancestors) ``access`` may name. Two queries
    at most, whatever the number of CIs."""
    found = effective_policies(cis)
    referred = [ci.parent_id for ci in cis] + [effective.decided_by_id for effective in found.values()]
    named = named_cis(access, referred)
    return {ci_id: effective.seen_by(named) for ci_id, effective in found.items()}, named


# One statement for any number of CIs: walk each chain upwards until a CI with a policy (or the
# root), keeping the CI the walk started from. Indexed primary-key steps, one per level.
_EFFECTIVE = """
WITH RECURSIVE chain(origin, id, name, parent_id, sla_policy_id, depth) AS (
    SELECT ci.id, ci.id, ci.name, ci.parent_id, ci.sla_policy_id, 0
      FROM {ci} ci WHERE ci.id = ANY(%s)
    UNION ALL
    SELECT chain.origin, up.id, up.name, up.parent_id, up.sla_policy_id, chain.depth + 1
      FROM chain JOIN {ci} up ON up.id = chain.parent_id
     WHERE chain.sla_policy_id IS NULL AND chain.depth < {max_depth}
)
SELECT chain.origin, chain.id, chain.name, chain.depth, policy.id, policy.name
  FROM chain LEFT JOIN {policy} policy ON policy.id = chain.sla_policy_id
 WHERE chain.sla_policy_id IS NOT NULL
"""


def effective_policies(cis: Iterable[ConfigurationItem]) -> dict[int, EffectivePolicy]:
    """The effective policy of each CI (of the active schema) in one query."""
    names = {ci.pk: ci.name for ci in cis}
    found: dict[int, EffectivePolicy] = {}
    if names:
        sql = _EFFECTIVE.format(
            ci=connection.ops.quote_name(ConfigurationItem._meta.db_table),
            policy="public." + connection.ops.quote_name(SlaPolicy._meta.db_table),
            max_depth=MAX_DEPTH,
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(names)])
            for origin, ci_id, ci_name, depth, policy_id, policy_name in cursor.fetchall():
                found[origin] = EffectivePolicy(names[origin], policy_id, policy_name, ci_id, ci_name, depth)
    return {
        ci_id: found.get(ci_id) or EffectivePolicy(name, None, None, None, None, None)
        for ci_id, name in names.items()
    }


def effective_policy(ci: ConfigurationItem) -> EffectivePolicy:
    return effective_policies([ci])[ci.pk]


def ancestors(ci: ConfigurationItem) -> list[tuple[int, str]]:
    """(id, name) of the CI's parent, grandparent, ... up to the root, in one query."""
    return [(row[0], row[1]) for row in chain_up(ci.parent_id)]


def ancestors_seen(access: CustomerAccess, ci: ConfigurationItem) -> list[tuple[int | None, str]]:
    """The CI's location chain (parent first) as ``access`` may read it: a CI they may not
    open is ``(None, UNSEEN_CI)``, neither its id nor its name."""
    chain = ancestors(ci)
    named = named_cis(access, (ci_id for ci_id, _ in chain))
    return [(ci_id, name) if ci_id in named else (None, UNSEEN_CI) for ci_id, name in chain]


def chain_up(start_id: int | None) -> list[tuple[int, str, int]]:
    if start_id is None:
        return []
    table = connection.ops.quote_name(ConfigurationItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE up(id, name, parent_id, depth) AS (
                SELECT id, name, parent_id, 1 FROM {table} WHERE id = %s
                UNION ALL
                SELECT ci.id, ci.name, ci.parent_id, up.depth + 1
                  FROM {table} ci JOIN up ON ci.id = up.parent_id
                 WHERE up.depth < %s
            )
            SELECT id, name, depth FROM up ORDER BY depth
            """,  # noqa: S608 (the table name is ours, quoted; values are parameters)
            [start_id, MAX_DEPTH],
        )
        return [(int(row[0]), str(row[1]), int(row[2])) for row in cursor.fetchall()]


def name_hints(access: CustomerAccess, *, exclude: int | None = None, limit: int = 200) -> list[str]:
    """Names offered in the pages' <datalist>s (CIs in use); typing any exact name works too."""
    cis = cis_visible(access).exclude(status=CiStatus.RETIRED)
    if exclude is not None:
        cis = cis.exclude(pk=exclude)
    return list(cis.order_by("name").values_list("name", flat=True)[:limit])


def relation_ends(
    access: CustomerAccess, ci: ConfigurationItem, other: object, direction: str
) -> tuple[ConfigurationItem, ConfigurationItem]:
    """(source, target) of a relation between ``ci`` and the CI named by ``other`` (an id or a
    name): ``ci`` first when ``direction`` is "out", second when "in"."""
    found = ci_from(access, other, field="target")
    if found is None:
        raise ValidationError({"target": ["Name the other CI (an id or a name)."]})
    return (ci, found) if direction == "out" else (found, ci)


def asset_counts(cis: QuerySet[ConfigurationItem]) -> dict[str, object]:
    """Counts by type, by status and by both, of the given CIs (one grouped query)."""
    rows = cis.order_by().values("type", "status").annotate(n=Count("id"))
    by_type: Counter[str] = Counter({value: 0 for value in CiType.values})
    by_status: Counter[str] = Counter({value: 0 for value in CiStatus.values})
    both: dict[str, dict[str, int]] = {t: dict.fromkeys(CiStatus.values, 0) for t in CiType.values}
    for row in rows:
        by_type[row["type"]] += row["n"]
        by_status[row["status"]] += row["n"]
        both[row["type"]][row["status"]] = row["n"]
    return {
        "total": sum(by_type.values()),
        "by_type": dict(by_type),
        "by_status": dict(by_status),
        "by_type_and_status": both,
    }


def relations_visible(access: CustomerAccess, ci: ConfigurationItem) -> QuerySet[CiRelation]:
    """The CI's relations in both directions whose other end the caller may see too."""
    relations = CiRelation.objects.filter(Q(source=ci) | Q(target=ci)).select_related("source", "target")
    if not sees_all_cis(access):
        relations = relations.filter(source__owner__user=access.user, target__owner__user=access.user)
    return relations.order_by("kind", "id")


def relation_for(access: CustomerAccess, ci: ConfigurationItem, relation_id: int | str) -> CiRelation:
    try:
        return relations_visible(access, ci).get(pk=int(relation_id))
    except (CiRelation.DoesNotExist, ValueError, OverflowError):
        raise Http404 from None


def history_for(ci: ConfigurationItem) -> QuerySet[AuditEntry]:
    """The CI's audit entries, oldest first (they outlive a retired CI's changes)."""
    entries: QuerySet[AuditEntry] = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(ConfigurationItem), object_pk=str(ci.pk)
        )
        .select_related("content_type", "actor")
        .order_by("timestamp", "id")
    )
    return entries
