"""Every write is audited (issue 17): the walk of every route the URL resolvers know (the API's
operations, as its OpenAPI schema describes them, and every console and portal page's forms;
tests/probes/inputs.py) sends each write method its valid request, signed in as someone who may
make it, and finds among the audit entries that request wrote (in any chain) one with the caller
as actor, the route's channel (``api`` or ``web``) and the object the route is about.

A route that takes a POST but changes nothing (a preview, a search, a page served to any method)
writes no entry, and is listed as such below with the reason; the test holds it to that. A new
route that writes fails here until it is audited and listed (``OBJECTS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from psycopg import sql

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create, person_deactivate, token_issue
from audit import chain
from audit.context import job_context
from billing import services as billing_services
from billing.models import DayPassPurchase
from cmdb.models import ConfigurationItem
from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.console import WIZARD
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_archive
from tests.conftest import PASSWORD
from tests.probes.fuzz import _request
from tests.probes.inputs import WEEK, Target, targets
from tests.probes.routes import API, WRITE_METHODS, all_routes
from tests.probes.world import Caller, World, module_world
from tests.tenants import test_wizard as wizard
from tickets import family, workflows
from tickets.models import Ticket
from tickets.satisfaction.services import rating_token
from tickets.sla.reapply import reapply_preview
from tickets.types import services as type_services

ROUTES = all_routes()
WRITES = [
    (route, method)
    for route in ROUTES
    for method in route.methods
    if method in WRITE_METHODS and route.name != "api-not-found"
]
IDS = [f"{route.id} {method}" for route, method in WRITES]

TICKET_WORK = ("tickets.ticket", "tickets.comment", "tickets.attachment")
# What each write route's entries are about (object types, ``app_label.model``), by url name
# (the family's pages and the API alike, where the names agree).
OBJECTS: dict[str, tuple[str, ...]] = {
    "login": ("accounts.user",),
    "logout": ("accounts.user",),
    "activate": ("accounts.user",),
    "profile": ("accounts.user", "accounts.apitoken"),
    "token-revoke": ("accounts.apitoken",),
    "api:auth-token": ("accounts.user", "accounts.apitoken"),
    "api:agent-list": ("accounts.user", "accounts.agentmembership"),
    "api:agent-detail": ("accounts.user", "accounts.agentmembership", "accounts.apitoken"),
    "console-agent-new": ("accounts.user", "accounts.agentmembership"),
    "console-agent": ("accounts.user", "accounts.agentmembership"),
    "console-agent-deactivate": ("accounts.user",),
    "console-agent-reactivate": ("accounts.user",),
    "day-pass": ("billing.daypassconsumption",),
    "api:day-pass-purchases": ("billing.daypasspurchase",),
    "billing-day-passes-buy": ("billing.daypasspurchase",),
    "api:customer-list": ("tenants.customer",),
    "api:customer-detail": ("tenants.customer", "tenants.customersettings"),
    "console-onboarding-summary": ("tenants.customer",),
    "console-customer-edit": ("tenants.customer", "tenants.customersettings"),
    "console-customer-archive": ("tenants.customer",),
    "console-customer-restore": ("tenants.customer",),
    "api:customer-user-list": ("accounts.user", "people.customeruser"),
    "api:customer-user-detail": ("accounts.user", "people.customeruser"),
    "console-user-new": ("accounts.user", "people.customeruser"),
    "console-user": ("accounts.user", "people.customeruser"),
    "console-user-state": ("accounts.user",),
    "portal-user-new": ("accounts.user", "people.customeruser"),
    "portal-user": ("accounts.user", "people.customeruser"),
    "portal-user-state": ("accounts.user",),
    "api:ticket-list": TICKET_WORK,
    "api:ticket-detail": TICKET_WORK,
    "api:ticket-comments": ("tickets.comment",),
    "api:ticket-attachments": ("tickets.attachment",),
    "api:ticket-merge": ("tickets.merge", "tickets.ticket"),
    "api:ticket-links": ("tickets.ticketlink",),
    "api:ticket-link-detail": ("tickets.ticketlink",),
    "api:ticket-collaborators": ("guardian.userobjectpermission", "tickets.watcher"),
    "api:ticket-collaborator-detail": ("guardian.userobjectpermission", "tickets.watcher"),
    "api:ticket-rating": ("satisfaction.rating",),
    "api:tickets-bulk": TICKET_WORK,
    "console-ticket-new": TICKET_WORK,
    "console-ticket-change": TICKET_WORK,
    "console-ticket-sla": ("tickets.ticket",),
    "console-ticket-reply": ("tickets.comment", "tickets.ticket"),
    "console-ticket-merge": ("tickets.merge", "tickets.ticket"),
    "console-ticket-unmerge": ("tickets.merge", "tickets.ticket"),
    "console-ticket-link": ("tickets.ticketlink",),
    "console-ticket-unlink": ("tickets.ticketlink",),
    "console-collaborator-add": ("guardian.userobjectpermission", "tickets.watcher"),
    "console-collaborator-remove": ("guardian.userobjectpermission", "tickets.watcher"),
    "console-ticket-watch": ("tickets.watcher",),
    "console-queue-bulk": TICKET_WORK,
    "portal-ticket-new": TICKET_WORK,
    "portal-ticket-reply": ("tickets.comment", "tickets.ticket"),
    "portal-ticket-status": ("tickets.ticket",),
    "portal-collaborator-add": ("guardian.userobjectpermission", "tickets.watcher"),
    "portal-collaborator-remove": ("guardian.userobjectpermission", "tickets.watcher"),
    "satisfaction-rate": ("satisfaction.rating",),
    "portal-ticket-rating": ("satisfaction.rating",),
    "api:ci-list": ("cmdb.configurationitem",),
    "api:ci-detail": ("cmdb.configurationitem",),
    "api:ci-relations": ("cmdb.cirelation",),
    "api:ci-relation": ("cmdb.cirelation",),
    "console-ci-new": ("cmdb.configurationitem",),
    "console-ci-edit": ("cmdb.configurationitem",),
    "console-ci-delete": ("cmdb.configurationitem",),
    "console-ci-relation-add": ("cmdb.cirelation",),
    "console-ci-relation-delete": ("cmdb.cirelation",),
    "api:business-hours-list": ("sla.businesshours",),
    "api:business-hours-detail": ("sla.businesshours",),
    "api:business-hours-fill-holidays": ("sla.businesshours",),
    "sla-profile-new": ("sla.businesshours",),
    "sla-profile": ("sla.businesshours",),
    "sla-profile-fill": ("sla.businesshours",),
    "sla-profile-delete": ("sla.businesshours",),
    "api:sla-policy-list": ("sla.slapolicy",),
    "api:sla-policy-detail": ("sla.slapolicy",),
    "sla-policy-new": ("sla.slapolicy",),
    "sla-policy": ("sla.slapolicy",),
    "sla-policy-delete": ("sla.slapolicy",),
    "console-sla-reapply": ("tickets.ticket",),
    "api:sla-reapply": ("tickets.ticket",),
    "api:day-pass-activate": ("billing.daypassconsumption",),
    "api:import-list": ("imports.import",),
    "api:import-retry": ("imports.import",),
    "console-import-new": ("imports.import",),
    "console-import-retry": ("imports.import",),
    # The ticket is the sender's (channel email); the agent's act is on the mail itself.
    "api:email-triage-assign": ("mail.inboundmessage",),
    "api:email-triage-discard": ("mail.inboundmessage",),
    "mail-triage-assign": ("mail.inboundmessage",),
    "mail-triage-discard": ("mail.inboundmessage",),
    "api:mailbox-list": ("mail.mailbox",),
    "api:mailbox-detail": ("mail.mailbox",),
    "mail-mailboxes": ("mail.mailbox",),
    "mail-mailbox": ("mail.mailbox",),
    "mail-mailbox-delete": ("mail.mailbox",),
    "api:customer-email": ("mail.mailsettings", "mail.inboundaddress", "tenants.emaildomain"),
    "mail-settings": ("mail.mailsettings", "mail.inboundaddress", "tenants.emaildomain"),
    "api:saved-view-list": ("ticket_index.savedview",),
    "api:saved-view-detail": ("ticket_index.savedview",),
    "console-view-create": ("ticket_index.savedview",),
    "console-view-change": ("ticket_index.savedview",),
    "api:canned-response-list": ("canned.cannedresponse",),
    "api:canned-response-detail": ("canned.cannedresponse",),
    "console-canned": ("canned.cannedresponse",),
    "console-canned-edit": ("canned.cannedresponse",),
    "portal-surveys-setting": ("tenants.customersettings",),
    "api:contracts": ("contracts.contract", "contracts.prepaidentry"),
    "api:contract-detail": ("contracts.contract", "contracts.prepaidentry"),
    "api:contract-ledger": ("contracts.prepaidentry",),
    "api:month-close": ("contracts.closedmonth",),
    "api:ticket-time-entries": ("contracts.timeentry",),
    "console-ticket-time": ("contracts.timeentry",),
    "api:service-report-issue": ("reports.issuedreport",),
    "console-contracts": ("contracts.contract", "contracts.prepaidentry"),
    "console-contract": ("contracts.prepaidentry",),
    "console-month-close": ("contracts.closedmonth",),
    "console-service-report-issue": ("reports.issuedreport",),
    "console-service-report-schedule": ("reports.reportschedule",),
    "api:customer-automations": ("automations.rule",),
    "api:customer-automation": ("automations.rule",),
    "api:automation-list": ("automations.rule",),
    "api:automation-detail": ("automations.rule",),
    "console-automations": ("automations.rule",),
    "console-automation": ("automations.rule",),
    "console-automation-delete": ("automations.rule",),
    "console-customer-automations": ("automations.rule",),
    "console-customer-automation": ("automations.rule",),
    "console-customer-automation-delete": ("automations.rule",),
    # Request types: the type and its form's versions (a customer's), the library (the provider's),
    # a copy (a new type of the customer), a ticket's values (the ticket).
    "api:request-type-list": ("tickets.requesttype", "tickets.requestform"),
    "api:request-type-detail": ("tickets.requesttype", "tickets.requestform"),
    "api:library-request-type-list": ("request_library.libraryrequesttype",),
    "api:library-request-type-detail": ("request_library.libraryrequesttype",),
    "api:library-request-type-copy": ("tickets.requesttype", "tickets.requestform"),
    "console-request-types": ("tickets.requesttype", "tickets.requestform"),
    "console-request-type": ("tickets.requesttype", "tickets.requestform"),
    "console-request-library": ("request_library.libraryrequesttype",),
    "console-request-library-copy": ("tickets.requesttype", "tickets.requestform"),
    "console-ticket-fields": ("tickets.ticket",),
    # Notification rules (a customer's, provider-wide) and a person's own preferences.
    "api:notification-rules": ("notifications.notificationrule",),
    "api:notification-rule": ("notifications.notificationrule",),
    "api:customer-notification-rules": ("notifications.notificationrule",),
    "api:customer-notification-rule": ("notifications.notificationrule",),
    "api:notification-preferences": ("notifications.notificationpreference",),
    "console-notification-rules": ("notifications.notificationrule",),
    "console-notification-rule-delete": ("notifications.notificationrule",),
    "console-customer-notifications": ("notifications.notificationrule",),
    "console-customer-notification-rule-delete": ("notifications.notificationrule",),
    "notification-preferences": ("notifications.notificationpreference",),
}

# Detail routes whose ``pk`` is the id of the object their entries are about.
OWN_ID = {
    "api:ticket-detail",
    "api:ci-detail",
    "api:agent-detail",
    "api:business-hours-detail",
    "api:sla-policy-detail",
    "api:saved-view-detail",
    "api:canned-response-detail",
    "api:mailbox-detail",
    "api:contract-detail",
    "api:customer-automation",
    "api:automation-detail",
    "api:request-type-detail",
    "api:library-request-type-detail",
    "api:notification-rule",
    "api:customer-notification-rule",
}

# Routes that take a POST (or any method) and change nothing of the customer's or the provider's
# data, with why: they must write no entry.
NOT_WRITES: dict[str, str] = {
    "api:sla-simulate": "computes targets for a made-up ticket; nothing is stored",
    "api:canned-response-render": "fills a response's placeholders; nothing is stored",
    "api:customer-automation-dry-run": "replays a rule on the tickets; nothing is stored",
    "api:automation-dry-run": "replays a rule on a customer's tickets; nothing is stored",
    "console-ticket-sla-preview": "shows what a policy would do; nothing is stored",
    "sla-profile-preview": "shows a profile's calendar; nothing is stored",
    "console-sla-simulator": "computes targets for a made-up ticket; nothing is stored",
    "console-search": "a search page served to any method",
    "portal-search": "a search page served to any method",
    "home": "the queue page served to any method",
    "console-customer": "a customer's page served to any method",
    "console-ticket": "the ticket page served to any method",
    "portal-ticket": "the ticket page served to any method",
    "mail-triage": "the triage list served to any method",
    "mail-original": "shows a mail's original; nothing is stored",
    "console-attachment": "serves a file",
    "portal-attachment": "serves a file",
    "console-onboarding-customer": "a wizard step: held in the session until the summary creates it",
    "console-onboarding-hours": "a wizard step: held in the session until the summary creates it",
    "console-onboarding-sla": "a wizard step: held in the session until the summary creates it",
    "console-onboarding-users": "a wizard step: held in the session until the summary creates it",
    "console-onboarding-cancel": "ends the wizard: its session data is dropped",
    # A person's own reading state of their notifications, not data of a customer or the provider.
    "notifications": "marks the person's own notifications read",
    "notifications-read-all": "marks the person's own notifications read",
    "api:notification-read": "marks the person's own notification read",
    "api:notification-read-all": "marks the person's own notifications read",
}

# The crawl's valid request repeats what a form shows, or the schema's smallest values: a write
# that changes nothing writes no entry. These fields get values that change something (and new
# unique names where a route creates).
FRESH: dict[str, Any] = {
    "name": "walked name",
    "subject": "walked subject",
    "description": "walked description",
    "body": "walked body",
    "comment": "walked comment",
    "email": "walked@acme.test",
    "slug": "walked-co",
    "password": "a-long-walk-passphrase-9",
    "password1": "a-long-walk-passphrase-9",
    "password2": "a-long-walk-passphrase-9",
    "phone": "+49 30 1234",
}


def _fresh(body: dict[str, Any] | None) -> dict[str, Any]:
    return {key: FRESH.get(key, value) for key, value in (body or {}).items()}


def _in_acme(world: World) -> Any:
    return customer_schema(world.cast.acme)


def _ticket(world: World, slug: str = "acme") -> int:
    return int(next(i.value for i in world.instances["ticket"] if i.customer == slug))


def _second_ticket(world: World) -> int:
    with _in_acme(world):
        return int(Ticket.objects.get(subject="acme-secret-linked-ticket").pk)


def _third_ticket(world: World) -> int:
    with _in_acme(world), job_context("tests.walk"):
        return workflows.ticket_create(
            customer=world.cast.acme, by=world.cast.acme_user, new=workflows.NewTicket(subject="walk third")
        ).pk


def _peer_ci(world: World) -> int:
    with _in_acme(world):
        return int(ConfigurationItem.objects.get(name="acme-secret-peer").pk)


def _resolved(world: World) -> int:
    """Acme's ticket, resolved (what a rating needs)."""
    pk = _ticket(world)
    with _in_acme(world), job_context("tests.walk"):
        ticket = Ticket.objects.get(pk=pk)
        workflows.ticket_update(
            customer=world.cast.acme,
            ticket=ticket,
            by=world.cast.alice,
            changes=workflows.TicketChanges(status="resolved"),
        )
    return pk


def _resolved_ticket(world: World) -> Ticket:
    pk = _resolved(world)
    with _in_acme(world):
        return Ticket.objects.get(pk=pk)


def _merged(world: World) -> int:
    """Acme's second ticket merged into its first: the one to unmerge."""
    with _in_acme(world), job_context("tests.walk"):
        source = Ticket.objects.get(pk=_second_ticket(world))
        family.ticket_merge(
            customer=world.cast.acme,
            duplicate=source,
            target=Ticket.objects.get(pk=_ticket(world)),
            by=world.cast.alice,
        )
    return source.pk


def _spare_hours(world: World) -> int:
    with job_context("tests.walk"):
        return int(
            BusinessHours.objects.create(
                name="walk spare hours", timezone="UTC", schedule=WEEK, holidays=[]
            ).pk
        )


def _deactivated_agent(world: World) -> int:
    zed = next(i.value for i in world.instances["agent"])
    with job_context("tests.walk"):
        person_deactivate(user=User.objects.get(pk=zed))
    return int(zed)


def _archived_acme(world: World) -> str:
    with job_context("tests.walk"):
        customer_archive(customer=Customer.objects.get(slug="acme"))
    return "acme"


def _occasional_caller(world: World) -> str:
    """A new occasional agent, signed in, with no day pass yet today: the one who uses one."""
    with job_context("tests.walk"):
        user = agent_create(
            fields=AgentFields(
                email="walk-occasional@msp.test",
                name="Walk",
                customers=(world.cast.acme,),
                licence=Licence.OCCASIONAL,
            ),
            password=PASSWORD,
        )
        _, raw = token_issue(user=user, name="walk")
    session = Client()
    session.force_login(user)
    cookies = {key: morsel.value for key, morsel in session.cookies.items()}
    world.callers["walker"] = Caller(name="walker", user=user, home=None, bearer=raw, cookies=cookies)
    return "walker"


def _wizard_done(world: World, request: Request) -> Request:
    """Alice's onboarding draft, every step filled (as the wizard's own test fills them): what
    the summary's POST makes."""
    draft = {
        "customer": wizard.customer_step(),
        "hours": wizard.hours_step(),
        "sla": wizard.sla_step(),
        "users": wizard.users_step(*wizard.FIRST_USERS),
    }
    session = SessionStore(session_key=world.caller("alice").cookies[settings.SESSION_COOKIE_NAME])
    session[WIZARD] = draft
    session.save()
    return replace(request, body={})


def _sla_changed(world: World) -> str:
    """Acme's default SLA made twice as generous: its open tickets' due times move; the preview's
    fingerprint, which the reapply confirms."""
    generous = {
        priority: {clock: minutes * 2 for clock, minutes in clocks.items()}
        for priority, clocks in STANDARD_TARGETS.items()
    }
    with job_context("tests.walk"):
        policy = SlaPolicy.objects.create(name="walk generous", targets=generous)
        Customer.objects.filter(slug="acme").update(default_sla=policy)
    acme = Customer.objects.get(slug="acme")
    with customer_schema(acme):
        return reapply_preview(customer=acme, now=timezone.now()).fingerprint


def _multipart(fields: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    data: dict[str, Any] = {k: v for k, v in fields.items()}
    for name, (file_name, content) in files.items():
        data[name] = SimpleUploadedFile(file_name, content, content_type="text/plain")
    return encode_multipart(BOUNDARY, data), MULTIPART_CONTENT


USERS_CSV = ("walk-import.csv", b"customer,email,name\nacme,walk-import@acme.test,Walk Import\n")


@dataclass
class Request:
    caller: str
    kwargs: dict[str, str]
    body: dict[str, Any] | None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    pass_first: bool = True  # an occasional caller's day pass used before the request (World.send)


Prepare = Callable[[World, Request], Request]


def _body(**values: Any) -> Prepare:
    return lambda world, request: replace(request, body={**(request.body or {}), **values})


def _only(**values: Any) -> Prepare:
    return lambda world, request: replace(request, body=dict(values))


def _without(*names: str, **values: Any) -> Prepare:
    def prepare(world: World, request: Request) -> Request:
        kept = {k: v for k, v in (request.body or {}).items() if k not in names}
        return replace(request, body={**kept, **values})

    return prepare


WALKED_FIELDS = [{"key": "walked_code", "label": "Walked code", "kind": "text"}]


def _typed_ticket(world: World) -> int:
    """An Acme ticket filed as the world's request type (whose form has ``secret_code``)."""
    acme = world.cast.acme
    type_id = next(i.value for i in world.instances["request_type"] if i.customer == "acme")
    with _in_acme(world), job_context("tests.walk"):
        new = workflows.NewTicket(subject="walk typed", request_type=type_services.type_from(type_id))
        return workflows.ticket_create(customer=acme, by=world.cast.acme_user, new=new).pk


# Requests the crawl and the schema cannot make valid, by route id and method: a state to start
# from (made inside the test's transaction), another caller, or values that must agree with the
# world's objects.
WALKED_ACTIONS = [{"action": "note", "body": "walked"}]

PREPARED: dict[tuple[str, str], Prepare] = {
    ("login", "POST"): _only(email="alice@msp.test", password=PASSWORD),
    ("portal:login", "POST"): _only(email="admin@acme.test", password=PASSWORD),
    ("api:auth-token", "POST"): _only(email="alice@msp.test", password=PASSWORD),
    ("api:customer-user-list", "POST"): _only(email="walked@acme.test", name="Walked"),
    ("api:customer-user-detail", "PUT"): _without("password", "sla_policy", "is_active"),
    ("api:customer-user-detail", "PATCH"): _only(name="Walked"),
    ("api:agent-list", "POST"): _only(email="walked@msp.test", name="Walked", password=FRESH["password"]),
    ("api:agent-detail", "PUT"): _without("password", "customers", "permissions"),
    ("api:agent-detail", "PATCH"): _only(name="Walked"),
    ("api:ticket-comments", "POST"): _only(body="walked reply", public=True),
    # The schema's smallest id (1) names an object only by chance: these send no reference.
    ("api:ticket-list", "POST"): _only(subject="walked", description="walked", priority="P3"),
    ("api:ticket-detail", "PATCH"): _only(priority="P1"),
    ("api:ci-list", "POST"): _only(name="walked-ci", type="server"),
    ("api:ticket-collaborators", "POST"): _only(user="admin@acme.test"),
    ("api:ci-detail", "PATCH"): _only(name="walked-ci"),
    ("api:ci-relations", "POST"): lambda world, r: replace(
        r, body={"target": _peer_ci(world), "kind": "depends_on"}
    ),
    ("api:ticket-merge", "POST"): lambda world, r: replace(r, body={"into": _second_ticket(world)}),
    ("api:ticket-merge", "DELETE"): lambda world, r: replace(
        r, kwargs={**r.kwargs, "ticket_pk": str(_merged(world))}
    ),
    ("api:ticket-links", "POST"): lambda world, r: replace(
        r, body={"kind": "parent", "ticket": _third_ticket(world)}
    ),
    ("api:ticket-rating", "POST"): lambda world, r: replace(
        r,
        caller="acme_user",
        kwargs={**r.kwargs, "ticket_pk": str(_resolved(world))},
        body={"score": "bad", "comment": "walked"},
    ),
    ("api:ticket-rating", "PUT"): lambda world, r: replace(
        r,
        caller="acme_user",
        kwargs={**r.kwargs, "ticket_pk": str(_resolved(world))},
        body={"score": "bad", "comment": "walked"},
    ),
    ("api:ticket-attachments", "POST"): lambda world, r: replace(
        r, body={}, files={"attachments": ("walk.txt", b"walked")}
    ),
    ("api:import-list", "POST"): lambda world, r: replace(
        r, body={"kind": "users", "dry_run": "false"}, files={"file": USERS_CSV}
    ),
    ("api:tickets-bulk", "POST"): lambda world, r: replace(
        r, body={"tickets": [{"customer": "acme", "id": _ticket(world)}], "action": "priority", "value": "P1"}
    ),
    ("api:email-triage-assign", "POST"): _only(customer="acme"),
    ("api:business-hours-detail", "PUT"): _body(schedule=WEEK, holidays=[], name="walked hours"),
    ("api:business-hours-detail", "PATCH"): _only(name="walked hours"),
    ("api:business-hours-detail", "DELETE"): lambda world, r: replace(
        r, kwargs={"pk": str(_spare_hours(world))}
    ),
    ("api:business-hours-fill-holidays", "POST"): _only(country="DE", years="2027"),
    ("api:day-pass-activate", "POST"): lambda world, r: replace(
        r, caller=_occasional_caller(world), pass_first=False
    ),
    ("day-pass", "POST"): lambda world, r: replace(r, caller=_occasional_caller(world), pass_first=False),
    ("console-agent-new", "POST"): _body(email="walked@msp.test"),
    ("console-ticket-change", "POST"): _only(priority="P1"),
    # A contract and time: dates and amounts that change something (the schema's smallest date
    # may be in a month the world closed).
    ("api:contracts", "POST"): _only(name="walked contract", starts_on="2026-12-01", prepaid_hours=5),
    ("api:contract-detail", "PUT"): _only(name="walked contract", starts_on="2026-02-01"),
    ("api:contract-detail", "PATCH"): _only(name="walked contract"),
    ("api:contract-ledger", "POST"): _only(kind="topup", minutes=60),
    ("api:month-close", "POST"): lambda world, r: replace(r, kwargs={**r.kwargs, "month": "2026-10"}),
    ("api:ticket-time-entries", "POST"): _only(minutes=15, work_date="2026-12-01", billable=True),
    ("console-ticket-time", "POST"): _only(
        minutes="15", work_date="2026-12-01", billable="on", note="walked"
    ),
    ("console-contracts", "POST"): _only(name="walked contract", starts_on="2026-12-01", prepaid_hours="5"),
    ("console-contract", "POST"): _only(hours="1.5", note="walked"),
    ("console-month-close", "POST"): _only(month="2026-09"),
    ("console-service-report-issue", "POST"): _only(month="2026-10"),
    ("console-service-report-schedule", "POST"): _only(contacts="cfo@acme.test", day="5"),
    ("sla-policy-new", "POST"): _only(
        name="walk policy",
        warning_percent="80",
        business_hours="",
        **{
            f"{priority}_{clock}": str(minutes)
            for priority, clocks in STANDARD_TARGETS.items()
            for clock, minutes in clocks.items()
        },
    ),
    ("sla-profile-new", "POST"): _only(
        name="walk hours",
        timezone="Europe/Paris",
        holidays="",
        **{day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        sat="",
        sun="",
    ),
    ("sla-profile-fill", "POST"): _only(country="DE", subdivision="", years="2027"),
    ("sla-profile-delete", "POST"): lambda world, r: replace(
        r, kwargs={"profile_id": str(_spare_hours(world))}
    ),
    ("portal-ticket-status", "POST"): lambda world, r: replace(  # a customer closes a resolved ticket
        r, caller="acme_user", kwargs={"ticket_id": str(_resolved(world))}, body={"status": "closed"}
    ),
    ("portal-surveys-setting", "POST"): lambda world, r: replace(
        r, body={"satisfaction_surveys": "" if r.body and r.body.get("satisfaction_surveys") else "on"}
    ),
    ("api:sla-reapply", "POST"): lambda world, r: replace(r, body={"confirm": _sla_changed(world)}),
    ("console-sla-reapply", "POST"): lambda world, r: replace(r, body={"fingerprint": _sla_changed(world)}),
    ("console-onboarding-summary", "POST"): _wizard_done,
    ("billing-day-passes-buy", "POST"): lambda world, r: replace(
        r,
        body={
            "quantity": "1",
            "confirm": "yes",
            "unit_price": str(billing_services.unit_price()),
            "after": str(DayPassPurchase.objects.order_by("-id").values_list("id", flat=True).first() or 0),
        },
    ),
    ("console-ticket-sla", "POST"): lambda world, r: replace(
        r, body={"sla_policy": str(next(i.value for i in world.instances["sla_policy"]))}
    ),
    ("console-ticket-merge", "POST"): lambda world, r: replace(r, body={"into": str(_second_ticket(world))}),
    ("console-ticket-unmerge", "POST"): lambda world, r: replace(
        r, kwargs={**r.kwargs, "ticket_id": str(_merged(world))}
    ),
    ("console-ticket-link", "POST"): lambda world, r: replace(
        r, body={"kind": "parent", "ticket": str(_third_ticket(world))}
    ),
    ("console-collaborator-add", "POST"): _only(user="admin@acme.test"),
    ("portal-collaborator-add", "POST"): _only(user="admin@acme.test"),
    ("console-ci-relation-add", "POST"): _only(kind="depends_on", direction="out", target="acme-secret-peer"),
    ("mail-triage-assign", "POST"): _body(customer="acme"),
    ("mail-mailboxes", "POST"): _body(
        host="imap.walk.test", username="walk", password="walk-secret", folder="INBOX"
    ),
    ("mail-mailbox", "POST"): _body(host="imap2.walk.test", password=""),
    ("console-import-new", "POST"): lambda world, r: replace(
        r, body={"kind": "users", "dry_run": ""}, files={"file": USERS_CSV}
    ),
    ("satisfaction-rate", "POST"): lambda world, r: replace(
        r,
        kwargs={
            **r.kwargs,
            "token": rating_token(customer=world.cast.acme, ticket=_resolved_ticket(world), score="bad"),
        },
        body={"score": "bad", "comment": "walked"},
    ),
    ("portal-ticket-rating", "POST"): lambda world, r: replace(
        r,
        caller="acme_user",
        kwargs={**r.kwargs, "ticket_id": str(_resolved(world))},
        body={"score": "bad", "comment": "walked"},
    ),
    ("console-agent-reactivate", "POST"): lambda world, r: replace(
        r, kwargs={"agent_id": str(_deactivated_agent(world))}
    ),
    ("console-customer-restore", "POST"): lambda world, r: replace(r, kwargs={"slug": _archived_acme(world)}),
    # Automation rules: a body the rule language takes (the schema's JSON fields say nothing of it).
    ("api:customer-automations", "POST"): _only(name="walked rule", event="created", actions=WALKED_ACTIONS),
    ("api:customer-automation", "PUT"): _only(name="walked rule", event="created", actions=WALKED_ACTIONS),
    ("api:customer-automation", "PATCH"): _only(name="walked rule"),
    ("api:automation-list", "POST"): _only(name="walked rule", event="created", actions=WALKED_ACTIONS),
    ("api:automation-detail", "PUT"): _only(name="walked rule", event="created", actions=WALKED_ACTIONS),
    ("api:automation-detail", "PATCH"): _only(name="walked rule"),
    ("api:automation-dry-run", "POST"): _only(customer="acme"),
    # Request types: a form the walk can fill (new names where a route creates), a copy to a
    # customer that has no type of that name yet, a ticket value its form takes.
    ("api:request-type-list", "POST"): _only(name="walked type", fields=WALKED_FIELDS),
    ("api:request-type-detail", "PUT"): _only(name="walked type", fields=WALKED_FIELDS),
    ("api:request-type-detail", "PATCH"): _only(fields=WALKED_FIELDS),
    ("api:library-request-type-list", "POST"): _only(name="walked type", fields=WALKED_FIELDS),
    ("api:library-request-type-detail", "PUT"): _only(name="walked type", fields=WALKED_FIELDS),
    ("api:library-request-type-detail", "PATCH"): _only(fields=WALKED_FIELDS),
    ("api:library-request-type-copy", "POST"): _only(customer="acme"),
    **{
        (name, "POST"): _only(
            name="walked type",
            active="on",
            **{"fields-TOTAL_FORMS": "1", "fields-INITIAL_FORMS": "0"},
            **{f"fields-0-{key}": value for key, value in WALKED_FIELDS[0].items()},
        )
        for name in ("console-request-types", "console-request-type", "console-request-library")
    },
    ("console-request-library-copy", "POST"): _only(customer="acme"),
    # Notification rules: a recipient is either a role or a person (the schema allows both keys).
    **{
        (name, method): _only(
            name="walked notice", event="resolved", recipients=[{"role": "requester"}], channels=["email"]
        )
        for name, method in (
            ("api:notification-rules", "POST"),
            ("api:notification-rule", "PUT"),
            ("api:customer-notification-rules", "POST"),
            ("api:customer-notification-rule", "PUT"),
        )
    },
    ("api:notification-rule", "PATCH"): _only(name="walked notice"),
    ("api:customer-notification-rule", "PATCH"): _only(name="walked notice"),
    ("api:notification-preferences", "PUT"): _only(
        muted={"resolved": ["email"]}, quiet_from="22:00", quiet_to="07:00"
    ),
    ("api:notification-preferences", "PATCH"): _only(quiet_from="21:00", quiet_to="06:00"),
    **{
        (name, "POST"): _only(name="walked notice", event="resolved", roles="requester", channels="email")
        for name in ("console-notification-rules", "console-customer-notifications")
    },
    ("notification-preferences", "POST"): _only(quiet_from="22:00", quiet_to="07:00"),
    ("console-ticket-fields", "POST"): lambda world, r: replace(
        r, kwargs={**r.kwargs, "ticket_id": str(_typed_ticket(world))}, body={"field.secret_code": "walked"}
    ),
    **{
        (name, "POST"): _only(name="walked rule", event="created", actions=json.dumps(WALKED_ACTIONS))
        for name in (
            "console-automations",
            "console-automation",
            "console-customer-automations",
            "console-customer-automation",
        )
    },
}


@dataclass(frozen=True)
class Written:
    chain: str
    id: int
    actor_id: int | None
    channel: str
    job: str
    object_type: str
    object_pk: str

    def __str__(self) -> str:
        who = self.actor_id or self.job
        return f"{self.object_type} {self.object_pk} by {who} ({self.channel}, {self.chain})"


def _newest_ids() -> dict[str, int]:
    newest = {}
    with connection.cursor() as cursor:
        for name in chain.chains():
            table = sql.Identifier(name, chain.ENTRY_TABLE)
            cursor.execute(sql.SQL("SELECT coalesce(max(id), 0) FROM {table}").format(table=table))
            newest[name] = int(cursor.fetchone()[0])
    return newest


def _written_since(newest: dict[str, int]) -> list[Written]:
    found = []
    with connection.cursor() as cursor:
        for name, since in newest.items():
            cursor.execute(
                sql.SQL(
                    "SELECT e.id, e.actor_id, e.channel, e.job, t.app_label || '.' || t.model, e.object_pk"
                    " FROM {table} e JOIN public.django_content_type t ON t.id = e.content_type_id"
                    " WHERE e.id > %s ORDER BY e.id"
                ).format(table=sql.Identifier(name, chain.ENTRY_TABLE)),
                [since],
            )
            found += [Written(name, *row) for row in cursor.fetchall()]
    return found


def _activated(target: Target) -> int:
    return int(force_str(urlsafe_base64_decode(target.kwargs["uidb64"])))


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from module_world(django_db_blocker, tmp_path_factory.mktemp("every-write-media"))


@pytest.fixture(scope="module")
def known(world: World) -> dict[tuple[str, str], Target]:
    return {(target.route.id, target.method): target for target in targets(world, ROUTES)}


def test_every_write_route_is_listed() -> None:
    names = {route.name for route, _ in WRITES}
    assert names <= set(OBJECTS) | set(NOT_WRITES), sorted(names - set(OBJECTS) - set(NOT_WRITES))


@pytest.mark.parametrize(("route", "method"), WRITES, ids=IDS)
def test_every_write_is_audited_with_its_actor_channel_and_object(
    world: World, known: dict[tuple[str, str], Target], db: None, route: Any, method: str
) -> None:
    target = known[(route.id, method)]
    assert not target.unprobed, target.unprobed
    request = Request(
        target.caller, dict(target.kwargs), _fresh(target.body) if target.body is not None else None
    )
    prepare = PREPARED.get((route.id, method)) or PREPARED.get((route.name, method))
    if prepare is not None:
        request = prepare(world, request)
    target = replace(target, caller=request.caller, kwargs=request.kwargs, body=request.body)
    path, body, content_type = _request(target, [])
    if request.files:
        body, content_type = _multipart(request.body or {}, request.files)
    caller = world.caller(target.caller)
    newest = _newest_ids()
    sent = world.send(
        caller,
        method,
        target.host,
        path,
        body=body,
        content_type=content_type,
        inspect=lambda: _written_since(newest),
        pass_first=request.pass_first,
    )
    written: list[Written] = sent.inspected
    assert sent.status < 500, sent.cause
    if route.name in NOT_WRITES:
        assert written == [], f"{target} wrote {[str(w) for w in written]}"
        return
    assert sent.status < 400, f"{target}: the valid request was refused: {sent.status} {sent.text[:300]}"
    channel = "api" if route.family == API else "web"
    expected = OBJECTS[route.name]
    # Activating an account is done by the person the link names, before they are signed in; a
    # rating by the link of a survey email, by the ticket's requester (the link is the credential).
    if caller.user is not None:
        actor = caller.user.pk
    elif "uidb64" in target.kwargs:
        actor = _activated(target)
    else:
        actor = world.cast.acme_user.pk
    matching = [
        entry
        for entry in written
        if entry.actor_id == actor and entry.channel == channel and entry.object_type in expected
    ]
    assert matching, (
        f"{target}: no entry by {caller.name} on {channel} about {' or '.join(expected)};"
        f" written: {[str(w) for w in written] or 'nothing'}"
    )
    if route.name in OWN_ID and method in ("PUT", "PATCH", "DELETE"):  # the object the path names
        assert any(entry.object_pk == target.kwargs["pk"] for entry in matching), [str(w) for w in matching]
