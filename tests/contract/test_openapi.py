"""The REST contract, checked from outside: schemathesis runs every operation of
``/api/v1/schema/`` with every check against the real web server, as a provider admin, a member
agent and a customer user, and must find nothing.

Bounded for CI: the examples, fuzzing and stateful phases with a few examples per operation,
generated deterministically (no seed, no database of earlier runs). ``python3 dev.py contract
--examples N`` runs the same with N examples and the coverage phase (every boundary of every
field: thousands of requests per caller). The failure report is schemathesis' own, with a curl
line per failure; everything is kept in test-artifacts/contract/<caller>/.

The server writes for real (the test database, committed), so every run gets its own objects to
change and delete (a customer, an agent, a user, a CI, ...), while reads and writes inside a
customer go to Acme, where the cast lives; tests/contract/hooks.py points generated cases at
them. These tests run last in a session (tests/conftest.py), because what they commit
(customers, purchases, a new default SLA policy) would disturb tests that count such things.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from accounts.models import User
from accounts.services import AgentFields, agent_create, token_issue
from audit.context import job_context
from automations import services as automation_services
from cmdb import services as cmdb_services
from imports.models import Import
from mail.mailboxes.services import MailboxFields, mailbox_create
from notifications.models import Notification, NotificationKind
from people.models import CustomerUser
from people.services import CustomerUserFields, customer_user_create
from sla.models import STANDARD_TARGETS
from sla.services import business_hours_create, sla_policy_create
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import ARTIFACTS, PASSWORD
from tests.contract import schemathesis_run as st
from tickets import workflows

pytestmark = pytest.mark.contract

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "5"))
MAX_STEPS = int(os.environ.get("CONTRACT_MAX_STEPS", "6"))
FULL = os.environ.get("CONTRACT_FULL") == "1"  # dev.py contract: the coverage phase too
API = "/api/v1"


@dataclass(frozen=True)
class Targets:
    """The real objects one run works on, and its tokens."""

    token: str
    spare_token: str
    slug: str
    spare_slug: str
    ticket: int
    attachment: int
    ci: int
    other_ci: int
    doomed_ci: int
    relation: int
    own_profile: int | None  # the caller's, when the caller is the customer user
    requester_profile: int
    spare_profile: int
    spare_agent: int
    business_hours: int
    sla_policy: int
    notification: int
    requester_emails: tuple[str, ...]
    agent_ids: tuple[int, ...]
    policy_ids: tuple[int, ...]
    import_job: int
    mailbox: int
    automation: int  # one of Acme's automation rules, and a provider-wide one, made for the run
    provider_automation: int


def _targets(caller: User, tag: str) -> Targets:
    """Committed objects for one run (the server is another process)."""
    acme = Customer.objects.get(slug="acme")
    bob = User.objects.get(email="bob@msp.test")
    requester = User.objects.get(email="user@acme.test")
    with job_context(f"tests.contract.{tag}"):
        spare = customer_provision(name=f"Spare {tag}", slug=f"spare-{tag}")
        spare_agent = agent_create(
            fields=AgentFields(email=f"spare-{tag}@msp.test", name=f"Spare {tag}"), password=PASSWORD
        )
        hours = business_hours_create(
            name=f"Hours {tag}", schedule={"mon": [["09:00", "17:00"]]}, timezone="Europe/Berlin"
        )
        policy = sla_policy_create(name=f"Policy {tag}", targets=STANDARD_TARGETS, business_hours=hours)
        with customer_schema(acme):
            own = CustomerUser.objects.get(user=requester)
            spare_profile = customer_user_create(
                customer=acme,
                fields=CustomerUserFields(email=f"spare-{tag}@acme.test", name=f"Spare {tag}"),
                password=PASSWORD,
            )
            ci = cmdb_services.ci_create(
                customer=acme, by=bob, new=cmdb_services.NewCi(name=f"srv-{tag}", type="server", owner=own)
            )
            other_ci = cmdb_services.ci_create(  # referred to by cases; the customer user sees it
                customer=acme,
                by=bob,
                new=cmdb_services.NewCi(name=f"app-{tag}", type="application", owner=own),
            )
            doomed = cmdb_services.ci_create(
                customer=acme, by=bob, new=cmdb_services.NewCi(name=f"old-{tag}", type="other")
            )
            relation = cmdb_services.ci_relate(
                customer=acme, source=other_ci, target=ci, kind="runs_on", by=bob
            )
            ticket = workflows.ticket_create(
                customer=acme,
                by=requester,
                new=workflows.NewTicket(
                    subject=f"Contract {tag}", description="from the contract test", ci=ci
                ),
            )
            (attachment,) = workflows.ticket_attach(
                customer=acme,
                ticket=ticket,
                by=requester,
                files=[SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")],
            )
        notification = Notification.objects.create(
            user=caller,
            kind=NotificationKind.TICKET_UPDATED,
            customer=acme,
            ticket_id=ticket.pk,
            title=f"Contract {tag}",
            event_key=f"contract-{tag}",
        )
        content = b"customer,email\nacme,contract@acme.test\n"
        import_job = Import.objects.create(  # a failed one, so that its retry can go through
            kind="users",
            status="failed",
            dry_run=True,
            file_name=f"contract-{tag}.csv",
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            content=content,
            total=1,
            created_by=User.objects.get(email="alice@msp.test"),
        )
        mailbox = mailbox_create(
            fields=MailboxFields(host="imap.contract.test", username=f"contract-{tag}", password=PASSWORD)
        )
        alice = User.objects.get(email="alice@msp.test")
        automations = [
            automation_services.rule_create(
                by=alice,
                customer=customer,
                fields=automation_services.RuleFields(
                    name=f"contract {tag}", event="created", actions=[{"action": "note", "body": tag}]
                ),
            )
            for customer in (acme, None)
        ]
        _, raw = token_issue(user=caller, name=f"contract {tag}")
        _, spare_raw = token_issue(user=caller, name=f"contract {tag} (to revoke)")
    return Targets(
        token=raw,
        spare_token=spare_raw,
        slug=acme.slug,
        spare_slug=spare.slug,
        ticket=ticket.pk,
        attachment=attachment.pk,
        ci=ci.pk,
        other_ci=other_ci.pk,
        doomed_ci=doomed.pk,
        relation=relation.pk,
        own_profile=own.pk if caller == requester else None,
        requester_profile=own.pk,
        spare_profile=spare_profile.pk,
        spare_agent=spare_agent.pk,
        business_hours=hours.pk,
        sla_policy=policy.pk,
        notification=notification.pk,
        requester_emails=(requester.email,),
        agent_ids=(bob.pk,),
        policy_ids=(policy.pk,),
        import_job=import_job.pk,
        mailbox=mailbox.pk,
        automation=automations[0].pk,
        provider_automation=automations[1].pk,
    )


def _real_values(t: Targets) -> dict[str, Any]:
    """The real objects cases address (tests/contract/hooks.py puts them in). Reads go to objects
    the caller may see; changes and deletions go to objects made for this run, so that one
    operation does not take away what the next one needs (a deleted CI, an archived customer)."""
    customer = f"{API}/customers/{{slug}}"
    ticket = f"{customer}/tickets/{{ticket_pk}}"
    acme = {"slug": t.slug}
    in_ticket = {**acme, "ticket_pk": t.ticket}
    spare_or_own = t.own_profile or t.spare_profile
    path = {
        f"{API}/agents/{{id}}/": {"id": t.spare_agent},
        f"{API}/business-hours/{{id}}/": {"id": t.business_hours},
        f"{API}/business-hours/{{id}}/fill-holidays/": {"id": t.business_hours},
        f"{API}/sla-policies/{{id}}/": {"id": t.sla_policy},
        f"{API}/notifications/{{id}}/": {"id": t.notification},
        f"{API}/notifications/{{id}}/read/": {"id": t.notification},
        f"{API}/imports/{{id}}/": {"id": t.import_job},
        f"{API}/imports/{{id}}/retry/": {"id": t.import_job},
        f"{API}/email/mailboxes/{{id}}/": {"id": t.mailbox},
        f"{API}/automations/{{id}}/": {"id": t.provider_automation},
        f"{API}/automations/{{id}}/dry-run/": {"id": t.provider_automation},
        f"{customer}/automations/": acme,
        f"{customer}/automations/{{id}}/": {**acme, "id": t.automation},
        f"{customer}/automations/{{id}}/dry-run/": {**acme, "id": t.automation},
        f"{customer}/notification-rules/": acme,
        f"{customer}/notification-rules/preview/": acme,
        f"{customer}/": acme,
        **{f"{method} {customer}/": {"slug": t.spare_slug} for method in ("PUT", "PATCH", "DELETE")},
        f"{customer}/users/": acme,
        f"{customer}/users/{{id}}/": {**acme, "id": t.spare_profile},
        f"GET {customer}/users/{{id}}/": {**acme, "id": spare_or_own},
        f"{customer}/cis/": acme,
        f"{customer}/cis/counts/": acme,
        f"{customer}/cis/{{id}}/": {**acme, "id": t.ci},
        f"DELETE {customer}/cis/{{id}}/": {**acme, "id": t.doomed_ci},
        f"{customer}/cis/{{id}}/history/": {**acme, "id": t.ci},
        f"{customer}/cis/{{ci_pk}}/relations/": {**acme, "ci_pk": t.ci},
        f"{customer}/cis/{{ci_pk}}/relations/{{id}}/": {**acme, "ci_pk": t.ci, "id": t.relation},
        f"{customer}/sla/reapply/": acme,
        f"{customer}/tickets/": acme,
        f"{customer}/tickets/{{id}}/": {**acme, "id": t.ticket},
        f"{ticket}/comments/": in_ticket,
        f"{ticket}/history/": in_ticket,
        f"{ticket}/sla/": in_ticket,
        f"{ticket}/attachments/": in_ticket,
        f"{ticket}/attachments/{{id}}/download/": {**in_ticket, "id": t.attachment},
    }
    body = {
        "sla_policy": list(t.policy_ids),
        "default_sla": list(t.policy_ids),
        "policy": list(t.policy_ids),
        "business_hours": [t.business_hours],
        "requester": list(t.requester_emails),
        "assignee": ["me", *t.agent_ids],
        "ci": [t.other_ci],  # not the CI the run changes: that one may be retired
        "owner": [t.requester_profile],
        "parent": [t.other_ci],
        "target": [t.other_ci],
        "customers": [t.slug],
    }
    query = {
        f"{customer}/tickets/": {
            "requester": list(t.requester_emails),
            "ci": [str(t.other_ci)],
            "assignee": ["me", "none", *map(str, t.agent_ids)],
        },
        f"{customer}/cis/": {"owner": list(t.requester_emails)},
        f"{customer}/notification-rules/preview/": {"ticket": [str(t.ticket)]},
    }
    return {"path": path, "body": body, "query": query}


# Where a valid request may still be refused with 400 by a rule that depends on what exists, and
# that no schema can state: positive_data_acceptance there also accepts 400 (its other statuses
# as by default). Each entry is one operation and its reason; everything else keeps every check.
MAY_REFUSE_VALID_DATA = {
    **{
        f"{method} /api/v1/{prefix}notification-rules/{suffix}": (
            "a named recipient must be someone who may see the customer (provider-wide rules: "
            "provider staff), 400 naming recipients: a schema can say what an id is, not whose"
        )
        for prefix in ("", "customers/{slug}/")
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} /api/v1/me/notification-preferences/": (
            "quiet hours have both ends or neither, and end at another time than they start "
            "(400 naming quiet_from or quiet_to), also with the end already stored: a schema "
            "checks each value alone"
        )
        for method in ("PUT", "PATCH")
    },
    **{
        f"{method} /api/v1/customers/{{slug}}/request-types/{suffix}": (
            "a type's name is unique in the customer, field keys are unique in its form, and only "
            "choice kinds take choices, which they need (400 naming it): a schema checks each "
            "value alone"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} /api/v1/request-types/{suffix}": (
            "a library type's name is unique, field keys are unique in its form, and only choice "
            "kinds take choices, which they need (400 naming it): a schema checks each value alone"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    "POST /api/v1/request-types/{id}/copy/": (
        "the customer must be one the caller may see (404) without a type of that name (400 "
        "naming name): a schema can say what a slug is, not which customers exist"
    ),
    **{
        f"{method} /api/v1/customers/{{slug}}/tickets/{suffix}": (
            "request_type names one of the customer's active types and fields are checked against "
            "its form, by kind (400 naming fields.<key>): a schema cannot know a customer's forms"
        )
        for method, suffix in (("POST", ""), ("PATCH", "{id}/"))
    },
    "GET /api/v1/audit/access-review/": (
        "the period's last day may not come before its first, and a review covers at most 366 "
        "days (400 naming to): a schema checks each date alone"
    ),
    "POST /api/v1/tickets/bulk/": (
        "what value an action takes depends on the action (an agent for assign, a status, a "
        "priority, a note's text), and an agent's id must name an agent (400 naming value)"
    ),
    **{
        f"{method} /api/v1/views/{suffix}": (
            "a view's filters are checked by the queue's FilterSet (400 naming filters), and a "
            "name is unique per owner"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} /api/v1/canned-responses/{suffix}": (
            "a response limited to a customer names a customer the caller works, the others name "
            "none (400 naming customer), and a name is unique where it lives"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} /api/v1/email/mailboxes/{suffix}": (
            "a mailbox is pinned to an active customer, named by its slug (400 naming customer): "
            "a schema can say it is text, not which customers exist"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} /api/v1/customers/{{slug}}/email/": (
            "default_request_type names one of the customer's active request types (400 naming "
            "it): a schema can say it is an id or a name, not which types the customer has"
        )
        for method in ("PUT", "PATCH")
    },
    **{
        f"{method} /api/v1/customers/{{slug}}/contracts/{suffix}": (
            "a contract's last day may not come before its first (400 naming ends_on), its "
            "policy id must name a policy, and a block, once given, moves by top-ups only "
            "(400 naming prepaid_hours): a schema checks each value alone"
        )
        for method, suffix in (("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/"))
    },
    **{
        f"{method} {path}": (
            "a rule's conditions and actions are checked by its language (400 naming the condition "
            "or action), a time rule needs its wait, and a name is unique where the rule lives: "
            "the schema can say they are JSON, not which"
        )
        for base in ("/api/v1/automations/", "/api/v1/customers/{slug}/automations/")
        for method, path in (("POST", base), ("PUT", f"{base}{{id}}/"), ("PATCH", f"{base}{{id}}/"))
    },
    "POST /api/v1/automations/{id}/dry-run/": (
        "customer names an existing customer by its slug (404 otherwise): a schema can say it is "
        "text, not which customers exist"
    ),
    "POST /api/v1/customers/{slug}/contracts/{contract_pk}/ledger/": (
        "only a contract with a prepaid block takes a top-up (400 naming kind)"
    ),
    "POST /api/v1/customers/{slug}/tickets/{ticket_pk}/time-entries/": (
        "minutes and work_date are required unless the entry reverses another (whose id must name "
        "an entry of the ticket not reversed yet), and a work date may not be in the future "
        "(400 naming the field): a schema checks each value alone"
    ),
    "GET /api/v1/audit/": (
        "customer names an existing customer by its slug (400 naming customer): a schema can say "
        "it is text, not which customers exist"
    ),
    "POST /api/v1/customers/{slug}/cis/{ci_pk}/relations/": "a relation that exists already is 400",
    "POST /api/v1/customers/{slug}/tickets/{ticket_pk}/attachments/": (
        "only some file types are taken (400): the schema has no file names to say it with"
    ),
    **{
        f"{method} {path}": (
            "a profile and a policy on it must give due times within 100 years of a ticket opening "
            "(400 naming the field): whether they do depends on the other one"
        )
        for method, path in (
            ("PUT", "/api/v1/business-hours/{id}/"),
            ("PATCH", "/api/v1/business-hours/{id}/"),
            ("POST", "/api/v1/sla-policies/"),
            ("PUT", "/api/v1/sla-policies/{id}/"),
            ("PATCH", "/api/v1/sla-policies/{id}/"),
        )
    },
    "GET /api/v1/tickets/": (
        "a cursor is one the server wrote for this ordering (400 naming it otherwise): a schema "
        "can say it is a string, not who wrote it"
    ),
    "GET /api/v1/search/": (
        "a cursor is one the server signed (400 naming it otherwise): a schema can say it is a "
        "string, not who wrote it"
    ),
    "POST /api/v1/imports/": (
        "the file must be CSV with a header of the kind's columns (400 naming the file otherwise): "
        "a schema can say a file is binary, not what it holds"
    ),
    **{
        f"{method} /api/v1/customers/{{slug}}/tickets/{{ticket_pk}}/rating/": (
            "only a resolved or closed ticket is rated (409 ticket_not_resolved): a schema can say "
            "what a rating is, not which state the ticket is in"
        )
        for method in ("PUT", "POST")
    },
    "POST /api/v1/customers/{slug}/tickets/{ticket_pk}/merge/": (
        "a ticket is not merged into itself (400 naming into), and only open tickets merge (409): "
        "a schema cannot relate the body to the path or say which state the tickets are in"
    ),
    "POST /api/v1/customers/{slug}/tickets/{ticket_pk}/links/": (
        "a ticket is not linked to itself nor made its own ancestor (400), and a pair is linked "
        "once (409): a schema cannot relate the body to the path and the links already there"
    ),
    "POST /api/v1/email/triage/{id}/assign/": (
        "the mail's sender must be, or be able to become, a user of that customer (400 naming "
        "customer): a schema can say what a slug is, not whose mail it is"
    ),
    "POST /api/v1/customers/{slug}/tickets/{ticket_pk}/collaborators/": (
        "the colleague must be an active user of this customer other than the requester (400 "
        "naming user): a schema can say what an email is, not whose it is"
    ),
}
ACCEPTED_FOR_VALID_DATA = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
# What DELETE keeps readable, so the stateful phase's "deleted resource still available" does not
# apply to reading it: each entry is the read and its reason.
KEPT_AFTER_DELETE = {
    "GET /api/v1/customers/{slug}/": "DELETE archives a customer (is_active false), api.md",
    "GET /api/v1/agents/{id}/": "DELETE deactivates an agent (is_active false): the audit trail names them",
}


def _operations(t: Targets) -> list[st.Operation]:
    return [
        # Revoking: a token of its own (the run's token must live on); once revoked, 401s follow.
        st.Operation(f"{API}/auth/token/", ["DELETE"], headers={"Authorization": f"Bearer {t.spare_token}"}),
        *(
            st.Operation(
                label.split(" ", 1)[1],
                [label.split(" ", 1)[0]],
                checks={"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
            )
            for label in MAY_REFUSE_VALID_DATA
        ),
        *(
            st.Operation(
                label.split(" ", 1)[1],
                [label.split(" ", 1)[0]],
                checks={"use_after_free": {"enabled": False}},
            )
            for label in KEPT_AFTER_DELETE
        ),
    ]


ROLES = {
    "provider_admin": "alice@msp.test",
    "member_agent": "bob@msp.test",
    "customer_user": "user@acme.test",
}


@pytest.mark.parametrize("role", list(ROLES))
def test_the_server_keeps_its_schema(
    role: str, live_url: str, media_dir: Path, django_db_blocker: Any
) -> None:
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media_dir):  # the server's files
        targets = _targets(User.objects.get(email=ROLES[role]), tag)
    config = st.config_toml(
        token=targets.token,
        examples=EXAMPLES,
        operations=_operations(targets),
        max_steps=MAX_STEPS,
        coverage=FULL,
    )
    outcome = st.run(
        schema_url=f"{live_url}{API}/schema/",
        config=config,
        values=_real_values(targets),
        workdir=Path(ARTIFACTS) / "contract" / role,
        tag=tag,
        timeout=None if FULL else 900,  # CI: a server that hangs fails the test, not the job
    )
    if not outcome.ok:
        pytest.fail(
            f"schemathesis ({role}, {ROLES[role]}) found problems:\n{outcome.report()}", pytrace=False
        )
