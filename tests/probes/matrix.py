"""The outsider matrix: for a route, every member of the cast, every object its path arguments can
name (``KWARG_KINDS`` says what each argument names; ``world.BUILDERS`` makes those objects in
both customers with colliding ids) and every method the route serves, what must happen.

- HIDDEN: the caller may not see the object: the generic 404 (the API's exact envelope) and no
  marker of the object anywhere in the response. (A caller inside the object's own customer, a
  colleague or a member agent, may instead be refused by role before any lookup, 403 or 415,
  when that is the very answer an id that exists nowhere gets: it says nothing of the object.)
- SIGNED_OUT: nobody is signed in (anonymous, or a customer's person on another customer's
  portal, where their session is not honoured): 401 on the API, the sign-in redirect on pages.
- COLLISION: on a portal, another customer's id is this customer's own object with the same id:
  whatever the answer, nothing of the other customer's object.
- THROUGH: the caller may see the object: anything but 404 (and never a 500), so that a route
  that hides everything from everyone does not pass as "isolated".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product
from typing import Any
from urllib.parse import urlencode

from tests.conftest import CONSOLE_HOST
from tests.probes.routes import API, CONSOLE, PORTAL, Route
from tests.probes.world import (
    ANONYMOUS,
    CUSTOMER_PEOPLE,
    EVERYONE,
    MEMBERS,
    STAFF,
    Instance,
    Sent,
    World,
    portal_host,
)

# What each path argument names. The objects of each kind (a foreign one and a home one with the
# same id, for every customer) come from ``world.BUILDERS[kind]``.
KWARG_KINDS: dict[str, str] = {
    "slug": "customer",
    "ticket_pk": "ticket",
    "ticket_id": "ticket",
    "attachment_id": "attachment",
    "ci_pk": "ci",
    "ci_id": "ci",
    "relation_id": "relation",
    "agent_id": "agent",
    "user_id": "customer_user",
    "policy_id": "sla_policy",
    "profile_id": "business_hours",
    "token_id": "token",
    "import_id": "import",
    "view_id": "saved_view",
    "canned_id": "canned_response",
    "uidb64": "activation",
    "token": "activation",
    "rating_token": "rating_link",
    "mailbox_id": "mailbox",
    "mail_id": "triage_mail",
    "inbound_id": "routed_mail",
    "contract_pk": "contract",
    "contract_id": "contract",
    "month": "report_month",
    "rule_id": "provider_automation_rule",
    "customer_rule_id": "automation_rule",
    "type_id": "request_type",
    "entry_id": "library_request_type",
    "notification_rule_id": "provider_notification_rule",
    "customer_notification_rule_id": "notification_rule",
}
# ``pk`` names something else on every API route: what, by the route's url name.
PK_KINDS: dict[str, str] = {
    "api:customer-user-detail": "customer_user",
    "api:ticket-detail": "ticket",
    "api:ticket-attachment-download": "attachment",
    "api:ci-detail": "ci",
    "api:ci-history": "ci",
    "api:ci-relation": "relation",
    "api:agent-detail": "agent",
    "api:notification-detail": "notification",
    "api:notification-read": "notification",
    "api:business-hours-detail": "business_hours",
    "api:business-hours-fill-holidays": "business_hours",
    "api:sla-policy-detail": "sla_policy",
    "api:import-detail": "import",
    "api:import-retry": "import",
    "api:saved-view-detail": "saved_view",
    "api:canned-response-detail": "canned_response",
    "api:canned-response-render": "canned_response",
    "api:ticket-link-detail": "ticket_link",
    "api:ticket-collaborator-detail": "collaborator",
    "api:mailbox-detail": "mailbox",
    "api:email-triage-detail": "triage_mail",
    "api:email-triage-assign": "triage_mail",
    "api:email-triage-discard": "triage_mail",
    "api:contract-detail": "contract",
    "api:customer-automation": "automation_rule",
    "api:customer-automation-dry-run": "automation_rule",
    "api:automation-detail": "provider_automation_rule",
    "api:automation-dry-run": "provider_automation_rule",
    "api:request-type-detail": "request_type",
    "api:library-request-type-detail": "library_request_type",
    "api:library-request-type-copy": "library_request_type",
    "api:customer-notification-rule": "notification_rule",
    "api:notification-rule": "provider_notification_rule",
}
# Routes whose audience is narrower than "whoever may see the object": anyone else gets 404 too
# (a refusal by role that an unknown id gets as well is accepted from the customer's own people).
ROUTE_AUDIENCE: dict[str, frozenset[str]] = {
    "api:sla-reapply": STAFF,  # the provider's action on a customer: its own people never see it
    "console-sla-reapply": STAFF,
    # the provider's changes to a customer (its agents get 403, the customer's own agents 404)
    "console-customer-edit": STAFF,
    "console-customer-archive": STAFF,
    "console-customer-restore": STAFF,
    # the reply box's canned responses: the provider's (a customer's own agents have none)
    "console-canned-pick": STAFF,
    "console-canned-fill": STAFF,
    # the provider's mail settings of a customer: its member agents read them, its people never
    "api:customer-email": STAFF,
    "mail-settings": STAFF,
    # closing a customer's month for time entries: the provider's admins only
    "api:month-close": STAFF,
    "console-month-close": STAFF,
    # a customer's contracts and service report in the console: the provider's (its own agents
    # read the report in the portal once issued, and the contract there)
    "console-contracts": STAFF,
    "console-contract": STAFF,
    "console-service-report": STAFF,
    "console-service-report-issue": STAFF,
    "console-service-report-schedule": STAFF,
    # a customer's automation rules: the provider's admins (its agents get 403), never its people
    "api:customer-automations": STAFF,
    "api:customer-automation": STAFF,
    "api:customer-automation-dry-run": STAFF,
    "console-customer-automations": STAFF,
    "console-customer-automation": STAFF,
    "console-customer-automation-delete": STAFF,
    "console-customer-automation-dry-run": STAFF,
    # a customer's request types in the console: the provider's pages (its people use the API
    # and the portal's form)
    "console-request-types": STAFF,
    "console-request-type": STAFF,
    # a customer's notification rules and their preview: the provider's admins (its agents get
    # 403), never its people
    "api:customer-notification-rules": STAFF,
    "api:customer-notification-rule": STAFF,
    "api:customer-notification-rules-preview": STAFF,
    "console-customer-notifications": STAFF,
    "console-customer-notification-rule-delete": STAFF,
}
# The same, for the writes (any method but GET) of a route.
WRITE_AUDIENCE: dict[str, frozenset[str]] = {
    "api:customer-detail": STAFF,  # a customer's people read their customer; the provider changes it
    # a customer's admins read its contracts, ledgers and issued reports; the provider changes them
    "api:contracts": STAFF,
    "api:contract-detail": STAFF,
    "api:contract-ledger": STAFF,
    "api:service-report-issue": STAFF,
    # everyone of the customer reads its request types; the provider's admins write them
    "api:request-type-list": STAFF,
    "api:request-type-detail": STAFF,
}

HIDDEN, SIGNED_OUT, COLLISION, THROUGH = "hidden", "signed out", "collision", "through"
NOT_FOUND = {"code": "not_found", "detail": "Not found."}
NOT_SIGNED_IN_CODES = {"not_authenticated", "authentication_failed"}
# What a write sends: enough for most forms and serializers to get past parsing, so that an
# insider's answer says something about access rather than about an empty body.
WRITE_FIELDS = {
    "subject": "probe",
    "description": "probe",
    "body": "probe",
    "name": "probe",
    "email": "probe@probe.test",
    "type": "server",
    "kind": "runs_on",
    "target": "probe",
    "status": "resolved",
}


class Unprobed(Exception):
    """A route whose path arguments the matrix cannot fill: it needs a probe."""


def kinds_of(route: Route) -> list[tuple[str, str]]:
    """(argument, kind) for each path argument of ``route``, or ``Unprobed`` naming what is missing."""
    found = []
    for kwarg in route.kwargs:
        kind = PK_KINDS.get(route.name) if kwarg == "pk" else KWARG_KINDS.get(kwarg)
        if kind is None:
            where = f"PK_KINDS[{route.name!r}]" if kwarg == "pk" else f"KWARG_KINDS[{kwarg!r}]"
            raise Unprobed(
                f"{route} needs a probe: its path argument {kwarg!r} is not in the outsider matrix's table "
                f"(add {where} in tests/probes/matrix.py, and for a new kind a builder in "
                "tests/probes/world.py BUILDERS)"
            )
        found.append((kwarg, kind))
    return found


@dataclass(frozen=True)
class Probe:
    caller: str
    method: str
    host: str
    path: str
    expect: str
    objects: tuple[Instance, ...]
    # For a caller inside the object's own customer (a colleague, a member agent): the same
    # request with ids that exist nowhere. Such a caller may be refused by role before the object
    # is looked up (403, 415...) as long as the answer is the same as for an unknown id.
    unknown_path: str | None = None

    @property
    def markers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(marker for instance in self.objects for marker in instance.markers))

    def __str__(self) -> str:
        what = ", ".join(instance.label for instance in self.objects)
        return f"{self.caller} {self.method} http://{self.host}{self.path} [{what}]"


def callers_of(family: str) -> list[str]:
    if family == API:
        return [*EVERYONE, ANONYMOUS]
    if family == CONSOLE:
        return [name for name in EVERYONE if name in STAFF or name == "acme_it"] + [ANONYMOUS]
    return [*CUSTOMER_PEOPLE["acme"], *CUSTOMER_PEOPLE["globex"], ANONYMOUS]


def _combos(world: World, kinds: list[tuple[str, str]]) -> list[tuple[Instance, ...]]:
    """Every choice of one object per kind, all of one customer (or of none)."""
    names = list(dict.fromkeys(kind for _, kind in kinds))
    for name in names:
        if not world.instances.get(name):
            raise Unprobed(f"no objects of kind {name!r}: add a builder to tests/probes/world.py BUILDERS")
    pools = [world.instances[name] for name in names]
    return [combo for combo in product(*pools) if len({i.customer for i in combo if i.customer}) <= 1]


UNKNOWN_ID = 987654321


def _path(
    route: Route, kinds: list[tuple[str, str]], combo: tuple[Instance, ...], *, unknown: bool = False
) -> str:
    by_kind = {instance.kind: instance for instance in combo}
    return route.url(
        **{
            kwarg: UNKNOWN_ID if unknown and kind != "customer" else by_kind[kind].value_for(kwarg)
            for kwarg, kind in kinds
        }
    )


def _inside(caller: str, customer: str | None) -> bool:
    """Is ``caller`` one of ``customer``'s people or a member agent (sees the customer itself)?"""
    return customer is not None and (caller in MEMBERS[customer] or caller in CUSTOMER_PEOPLE[customer])


def _sees(world: World, caller: str, route: Route, method: str, combo: tuple[Instance, ...]) -> bool:
    audience = ROUTE_AUDIENCE.get(route.name)
    if audience is not None and caller not in audience:
        return False
    audience = WRITE_AUDIENCE.get(route.name) if method != "GET" else None
    if audience is not None and caller not in audience:
        return False
    return all(caller in instance.seen_by for instance in combo)


def _expectations(
    world: World, route: Route, method: str, combo: tuple[Instance, ...]
) -> list[tuple[str, str, str]]:
    """(caller, host, expectation) for every caller of the route's family, one method and one
    choice of objects."""
    customer = next((instance.customer for instance in combo if instance.customer), None)
    link = next((instance for instance in combo if instance.host), None)
    if link is not None:  # the link is the credential: who asks does not matter, the host does
        hosts = [CONSOLE_HOST] if route.family != PORTAL else [portal_host("acme"), portal_host("globex")]
        return [(ANONYMOUS, host, THROUGH if host == link.host else HIDDEN) for host in hosts]
    found = []
    for caller in callers_of(route.family):
        sees = THROUGH if _sees(world, caller, route, method, combo) else HIDDEN
        if route.family != PORTAL:
            found.append((caller, CONSOLE_HOST, SIGNED_OUT if caller == ANONYMOUS else sees))
            continue
        home = world.caller(caller).home
        for slug in ("acme", "globex"):
            host = portal_host(slug)
            if caller == ANONYMOUS or slug != home:  # a session is only good on its own portal
                if customer in (None, slug):
                    found.append((caller, host, SIGNED_OUT))
            elif customer not in (None, slug):  # the other customer's id, which is also one here
                found.append((caller, host, COLLISION))
            else:
                found.append((caller, host, sees))
    return found


def probes_for(world: World, route: Route) -> list[Probe]:
    kinds = kinds_of(route)
    probes: list[Probe] = []
    for combo in _combos(world, kinds):
        path = _path(route, kinds, combo)
        customer = next((instance.customer for instance in combo if instance.customer), None)
        for method in route.methods:
            for caller, host, expect in _expectations(world, route, method, combo):
                inside = expect == HIDDEN and _inside(caller, customer)
                unknown = _path(route, kinds, combo, unknown=True) if inside else None
                probes.append(Probe(caller, method, host, path, expect, combo, unknown))
    return probes


def request_of(world: World, probe: Probe, family: str, path: str | None = None) -> Sent:
    caller, path = world.caller(probe.caller), path or probe.path
    if probe.method == "GET":
        return world.send(caller, "GET", probe.host, path)
    if family == API:
        return world.send(caller, probe.method, probe.host, path, body=json.dumps(WRITE_FIELDS).encode())
    return world.send(
        caller,
        probe.method,
        probe.host,
        path,
        body=urlencode(WRITE_FIELDS).encode(),
        content_type="application/x-www-form-urlencoded",
    )


def run(world: World, probe: Probe, family: str) -> str | None:
    """Send ``probe``; what is wrong with the answer, or None."""
    sent = request_of(world, probe, family)
    wrong = verdict(probe, sent, family)
    if wrong and probe.unknown_path and sent.status in (400, 403, 405, 415) and not _leaks(probe, sent):
        same = request_of(world, probe, family, probe.unknown_path)
        # (pages carry a fresh CSRF token each time: their status is compared, their markers checked)
        if same.status == sent.status and (family != API or same.text == sent.text):
            return None  # refused before the object was looked up, as for an id that exists nowhere
        wrong += f"; and it differs from the answer for an unknown id ({same.status})"
    return wrong


def _leaks(probe: Probe, sent: Sent) -> list[str]:
    return [marker for marker in probe.markers if marker in sent.text or marker in sent.location]


def verdict(probe: Probe, sent: Sent, family: str) -> str | None:
    """What is wrong with ``sent`` as the answer to ``probe``; None when it is right."""
    if sent.status >= 500:
        return f"{sent.status}: {sent.cause or sent.text[:200]!r}"
    leaked = _leaks(probe, sent)
    if probe.expect != THROUGH and leaked:
        return f"{sent.status} showing {', '.join(leaked)} (should be {probe.expect})"
    if probe.expect == HIDDEN:
        body: Any = sent.json() if family == API else None
        if sent.status != 404 or (family == API and body != NOT_FOUND):
            shown = f" {sent.text[:200]!r}" if family == API else ""
            return f"{sent.status}{shown} instead of the generic 404"
    elif probe.expect == SIGNED_OUT:
        if family == API:
            body = sent.json()
            if (
                sent.status != 401
                or not isinstance(body, dict)
                or body.get("code") not in NOT_SIGNED_IN_CODES
            ):
                return f"{sent.status} {sent.text[:200]!r} instead of 401 not_authenticated"
        elif sent.status != 302 or not sent.location.startswith("/login/"):
            return f"{sent.status} (Location {sent.location!r}) instead of the sign-in redirect"
    elif probe.expect == THROUGH and sent.status == 404:
        return "404 for someone who may see it (does the route hide it from everyone?)"
    return None
