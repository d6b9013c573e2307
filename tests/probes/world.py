"""The probes' world: the fixed cast, signed in once, and objects in Acme and in Globex whose ids
collide (each sequence is moved to the same point in both schemas before the twins are made),
each carrying a marker string that must never reach anyone who may not see it.

Built once per test module inside a transaction that is rolled back at the end of the module;
every probe request runs in a savepoint of its own that is rolled back at once, so a write (or a
failed statement) by one probe is never seen by the next.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpResponse
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.services import AgentFields, agent_create, token_issue
from audit.context import job_context
from automations import services as automation_services
from billing.models import Channel
from billing.services import active_until, day_pass_consume, day_passes_buy, needs_day_pass
from cmdb import services as cmdb_services
from cmdb.models import CiRelation, ConfigurationItem
from contracts.services import contract_create
from imports.models import Import
from mail import processing
from mail.mailboxes.services import MailboxFields, mailbox_create
from mail.models import InboundMessage
from mail.store import store_raw
from notifications import configure as notification_configure
from notifications.models import Notification
from reports.issuing import report_issue
from sla.models import STANDARD_TARGETS, BusinessHours, SlaPolicy
from tenants.hosts import forget_hosts
from tenants.models import Customer
from tenants.schema import customer_schema
from tests.conftest import CONSOLE_HOST, PASSWORD, Cast
from tickets import collaborators, family, workflows
from tickets.canned.models import CannedResponse, Scope
from tickets.index.models import SavedView
from tickets.models import Attachment, Comment, Ticket, TicketLink
from tickets.satisfaction.models import Rating
from tickets.satisfaction.services import rating_token
from tickets.types import services as type_services
from tickets.types.values import definitions_clean

ANONYMOUS = "anonymous"
STAFF = frozenset({"alice", "bob", "charlie"})
CUSTOMER_PEOPLE = {
    "acme": ("acme_admin", "acme_user", "acme_user2", "acme_it"),
    "globex": ("globex_admin", "globex_user"),
}
# Who works each customer from the provider's side (Alice sees every customer).
MEMBERS = {"acme": frozenset({"alice", "bob"}), "globex": frozenset({"alice", "charlie"})}
# The person of each customer who opens its ticket and owns its CIs, its admin and its agent.
PLAIN = {"acme": "acme_user", "globex": "globex_user"}
ADMIN = {"acme": "acme_admin", "globex": "globex_admin"}
AGENTS = {"acme": ("acme_it",), "globex": ()}
# Who is copied on (a collaborator of) the customer's ticket besides its requester.
COPIED = {"acme": ("acme_user2",), "globex": ()}
EVERYONE = tuple(["alice", "bob", "charlie", *CUSTOMER_PEOPLE["acme"], *CUSTOMER_PEOPLE["globex"]])


def portal_host(slug: str) -> str:
    return f"{slug}.{CONSOLE_HOST}"


@dataclass(frozen=True)
class Instance:
    """One object a path argument can name: ``value`` (a dict for kinds that fill several
    arguments), the customer whose schema holds it (None: the public schema), who may see it,
    the markers that must not reach anyone else, and for links the host it is good on."""

    kind: str
    label: str
    value: Any
    customer: str | None
    seen_by: frozenset[str]
    markers: tuple[str, ...]
    host: str | None = None

    def value_for(self, kwarg: str) -> Any:
        return self.value[kwarg] if isinstance(self.value, dict) else self.value


@dataclass
class Caller:
    name: str
    user: User | None
    home: str | None  # the customer's slug for customers' people, None for the provider's staff
    bearer: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)  # the session, restored before every request


@dataclass
class Sent:
    """What a probe request got back: status, text, JSON (if any) and, for a 500, the traceback."""

    method: str
    host: str
    path: str
    status: int
    text: str
    location: str
    error: str | None = None  # the server-side traceback of an uncaught exception
    cause: str | None = None  # its summary: exception, message, the project line it came through
    origin: str | None = None  # the exception's type and that line: what one fix fixes
    inspected: Any = None  # what ``World.send(inspect=...)`` found before the rollback

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None


ROOT = Path(__file__).resolve().parents[2]


def _cause(exc_info: Any) -> tuple[str, str]:
    """The exception's first line and the last line of project code it came through (or of
    the library, for DRF's generic views); and just the exception's type and that place."""
    kind, exc, tb = exc_info
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/site-packages/" not in f.filename]
    libraries = [f for f in frames if "/site-packages/" in f.filename]  # DRF's generic views
    frame = (ours or libraries or frames)[-1]
    where = frame.filename.removeprefix(f"{ROOT}/").split("/site-packages/")[-1]
    message = (str(exc).strip().splitlines() or [""])[0]
    message = message if len(message) <= 120 else message[:117] + "..."
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return (
        f"{name}: {message} [{where}:{frame.lineno} {frame.name}: {frame.line}]",
        f"{name} at {where}:{frame.lineno}",
    )


@dataclass
class World:
    cast: Cast
    callers: dict[str, Caller]
    instances: dict[str, list[Instance]] = field(default_factory=dict)
    client: Client = field(default_factory=lambda: Client(raise_request_exception=False))

    def caller(self, name: str) -> Caller:
        return self.callers[name]

    def add(self, instance: Instance) -> None:
        self.instances.setdefault(instance.kind, []).append(instance)

    def send(
        self,
        caller: Caller,
        method: str,
        host: str,
        path: str,
        *,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        inspect: Callable[[], Any] | None = None,
        pass_first: bool = True,
    ) -> Sent:
        """One request, as ``caller``, in a savepoint that is rolled back right after it (after
        ``inspect``, if given, has looked at what the request wrote: ``Sent.inspected``)."""
        if (
            pass_first
            and caller.user is not None
            and needs_day_pass(caller.user)
            and not active_until(caller.user, timezone.now())
        ):
            day_pass_consume(user=caller.user, channel=Channel.CONSOLE)  # a run that crosses midnight
        client = self.client
        client.cookies = SimpleCookie(caller.cookies)
        extra: dict[str, Any] = {"HTTP_HOST": host, **(headers or {})}
        if caller.bearer and path.startswith("/api/"):
            extra["HTTP_AUTHORIZATION"] = f"Bearer {caller.bearer}"
        with transaction.atomic():
            response: Any = client.generic(method, path, body, content_type=content_type, **extra)
            text = _text(response)
            inspected = inspect() if inspect is not None else None
            transaction.set_rollback(True)
        forget_hosts()
        error = cause = origin = None
        if exc_info := getattr(response, "exc_info", None):  # the view raised: the client kept it
            error = "".join(traceback.format_exception(*exc_info))
            cause, origin = _cause(exc_info)
        return Sent(
            method=method,
            host=host,
            path=path,
            status=response.status_code,
            text=text,
            location=response.get("Location", ""),
            error=error,
            cause=cause,
            origin=origin,
            inspected=inspected,
        )


def _text(response: HttpResponse) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


# --- building it ------------------------------------------------------------------------------


_SEQUENCE_OF = """
    SELECT sn.nspname || '.' || sc.relname
    FROM pg_attrdef d
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum AND a.attname = 'id'
    JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
    JOIN pg_class sc ON sc.oid = dep.refobjid AND sc.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = sc.relnamespace
    WHERE d.adrelid = %s::regclass
    UNION
    SELECT pg_get_serial_sequence(%s, 'id')
"""


def _sequences(model: type[Model], customers: list[Customer]) -> list[str]:
    """The sequence behind ``model``'s id in each customer's schema (a shared one is repeated)."""
    found = []
    with connection.cursor() as cursor:
        for customer in customers:
            table = f'"{customer.schema_name}".{model._meta.db_table}'
            cursor.execute(_SEQUENCE_OF, [table, table])
            names = [row[0] for row in cursor.fetchall() if row[0]]
            assert len(names) == 1, f"no single id sequence for {table}: {names}"
            found.append(names[0])
    return found


def _move_sequences(model: type[Model], customers: list[Customer]) -> bool:
    """Make the next id of ``model`` the same in every one of ``customers``' schemas; False when
    they share one sequence (ids unique across customers), which no setval can make collide."""
    names = _sequences(model, customers)
    if len(set(names)) < len(names):
        return False
    with connection.cursor() as cursor:
        tops = []
        for name in names:
            cursor.execute(f"SELECT last_value FROM {name}")  # noqa: S608 - a name from the catalogue
            tops.append(cursor.fetchone()[0])
        for name in names:
            cursor.execute("SELECT setval(%s, %s)", [name, max(tops) + 1])
    return True


def _twins(model: type[Model], customers: list[Customer], make: Any) -> dict[str, Any]:
    """``make(customer)`` in each customer, with the same id everywhere: the sequences are moved
    to the same point first or, where the customers share one sequence, the later twins take
    the first one's id (nothing refers to them yet)."""
    own_sequences = _move_sequences(model, customers)
    made = {}
    for customer in customers:
        with customer_schema(customer):
            obj = made[customer.slug] = make(customer)
            first = made[customers[0].slug].pk
            if not own_sequences and obj.pk != first:
                model._default_manager.filter(pk=obj.pk).update(**{model._meta.pk.attname: first})
                obj.pk = first
    ids = {obj.pk for obj in made.values()}
    assert len(ids) == 1, f"{model.__name__} ids did not collide: {made}"
    return made


def _profile_pk(cast: Cast, name: str) -> int:
    return int(cast.profile(getattr(cast, name)).pk)


def _callers(cast: Cast) -> dict[str, Caller]:
    """Everyone of the cast with an API token and a session (console for console users, their
    portal for customers' people); the occasional agent has used a day pass for today."""
    callers = {ANONYMOUS: Caller(name=ANONYMOUS, user=None, home=None)}
    session = Client()
    for name in EVERYONE:
        user: User = getattr(cast, name)
        _, raw = token_issue(user=user, name=f"probe {name}")
        session.cookies = SimpleCookie()
        session.force_login(user)
        if needs_day_pass(user):
            day_pass_consume(user=user, channel=Channel.CONSOLE)
        home = user.customer.slug if user.customer is not None else None
        cookies = {key: morsel.value for key, morsel in session.cookies.items()}
        callers[name] = Caller(name=name, user=user, home=home, bearer=raw, cookies=cookies)
    return callers


def _seen_in(slug: str, *who: str) -> frozenset[str]:
    return MEMBERS[slug] | frozenset(who)


def _ticket_world(world: World, customers: list[Customer]) -> None:
    cast = world.cast

    def ticket(customer: Customer) -> Ticket:
        slug = customer.slug
        return workflows.ticket_create(
            customer=customer,
            by=getattr(cast, PLAIN[slug]),
            new=workflows.NewTicket(
                subject=f"{slug}-secret-ticket", description=f"{slug}-secret-description"
            ),
        )

    tickets = _twins(Ticket, customers, ticket)
    # Acme's ticket has a collaborator: a colleague copied on it sees it like its requester.
    with customer_schema(cast.acme):
        collaborators.grant(tickets["acme"], cast.acme_user2)

    def public_file(customer: Customer) -> Attachment:
        slug = customer.slug
        upload = SimpleUploadedFile(f"{slug}-secret-file.txt", f"{slug}-secret-file-content".encode())
        stored = workflows.ticket_attach(
            customer=customer, ticket=tickets[slug], by=getattr(cast, PLAIN[slug]), files=[upload]
        )
        return stored[0]

    public = _twins(Attachment, customers, public_file)
    _move_sequences(Comment, customers)

    def private_file(customer: Customer) -> Attachment:
        slug = customer.slug
        upload = SimpleUploadedFile(f"{slug}-secret-note-file.txt", f"{slug}-secret-note-content".encode())
        note = workflows.comment_add(
            customer=customer,
            ticket=tickets[slug],
            by=cast.alice,
            body=f"{slug}-secret-private-note",
            public=False,
            attachments=[upload],
        )
        return note.attachments.get()

    private = _twins(Attachment, customers, private_file)
    for customer in customers:
        slug = customer.slug
        seen = _seen_in(slug, ADMIN[slug], PLAIN[slug], *AGENTS[slug], *COPIED[slug])
        ticket_markers = (f"{slug}-secret-ticket", f"{slug}-secret-description", f"{slug}-secret-file")
        world.add(Instance("ticket", f"{slug} ticket", tickets[slug].pk, slug, seen, ticket_markers))
        world.add(Instance("attachment", f"{slug} ticket file", public[slug].pk, slug, seen, ticket_markers))
        world.add(
            Instance(
                "attachment",
                f"{slug} private note's file",
                private[slug].pk,
                slug,
                _seen_in(slug, *AGENTS[slug]),
                (f"{slug}-secret-note-file", f"{slug}-secret-note-content", f"{slug}-secret-private-note"),
            )
        )


def _cmdb_world(world: World, customers: list[Customer]) -> None:
    cast = world.cast

    def ci(name: str) -> Any:
        def make(customer: Customer) -> ConfigurationItem:
            owner = cast.profile(getattr(cast, PLAIN[customer.slug]))
            return cmdb_services.ci_create(
                customer=customer,
                by=cast.alice,
                new=cmdb_services.NewCi(
                    name=f"{customer.slug}-secret-{name}",
                    type="server",
                    owner=owner,
                    attributes={"ip": f"{customer.slug}-secret-ip"},
                ),
            )

        return make

    cis = _twins(ConfigurationItem, customers, ci("ci"))
    peers = _twins(ConfigurationItem, customers, ci("peer"))

    def relation(customer: Customer) -> CiRelation:
        slug = customer.slug
        return cmdb_services.ci_relate(
            customer=customer, source=cis[slug], target=peers[slug], kind="runs_on", by=cast.alice
        )

    relations = _twins(CiRelation, customers, relation)
    for customer in customers:
        slug = customer.slug
        seen = _seen_in(slug, ADMIN[slug], PLAIN[slug], *AGENTS[slug])
        markers = (f"{slug}-secret-ci", f"{slug}-secret-ip")
        world.add(Instance("ci", f"{slug} CI", cis[slug].pk, slug, seen, markers))
        world.add(
            Instance(
                "relation",
                f"{slug} CI relation",
                relations[slug].pk,
                slug,
                seen,
                (*markers, f"{slug}-secret-peer"),
            )
        )


def _people_world(world: World, customers: list[Customer]) -> None:
    cast = world.cast
    for customer in customers:
        slug = customer.slug
        everyone = frozenset(CUSTOMER_PEOPLE[slug])
        world.add(Instance("customer", slug, slug, slug, _seen_in(slug, *everyone), (f"{slug}-secret-",)))
        plain = PLAIN[slug]
        world.add(
            Instance(
                "customer_user",
                f"{slug}'s user {plain}",
                _profile_pk(cast, plain),
                slug,
                _seen_in(slug, ADMIN[slug], plain, *AGENTS[slug]),
                (getattr(cast, plain).email,),
            )
        )
    assert len({_profile_pk(cast, PLAIN[c.slug]) for c in customers}) == 1, "profile ids do not collide"


def _provider_world(world: World, customers: list[Customer]) -> None:
    cast = world.cast
    zed = agent_create(
        fields=AgentFields(email="zed-secret@msp.test", name="agent-secret-zed", customers=(cast.acme,)),
        password=PASSWORD,
    )
    world.add(
        Instance("agent", "agent Zed", zed.pk, None, STAFF, ("agent-secret-zed", "zed-secret@msp.test"))
    )
    week = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}
    hours = BusinessHours.objects.create(
        name="provider-secret-hours", timezone="Europe/Paris", schedule=week, holidays=["2026-12-25"]
    )
    world.add(Instance("business_hours", "business hours", hours.pk, None, STAFF, ("provider-secret-hours",)))
    policy = SlaPolicy.objects.create(
        name="provider-secret-policy", targets=STANDARD_TARGETS, business_hours=hours
    )
    world.add(Instance("sla_policy", "SLA policy", policy.pk, None, STAFF, ("provider-secret-policy",)))


def _imports_world(world: World, customers: list[Customer]) -> None:
    """An import (a dry run that failed, so that its retry goes through), the provider's: its
    file's name is the marker."""
    content = b"customer,email\nacme,provider-secret-import@acme.test\n"
    job = Import.objects.create(
        kind="users",
        status="failed",
        dry_run=True,
        file_name="provider-secret-import.csv",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        content=content,
        total=1,
        created_by=world.cast.alice,
    )
    markers = ("provider-secret-import",)
    world.add(Instance("import", "an import", job.pk, None, STAFF, markers))


def _personal_world(world: World, customers: list[Customer]) -> None:
    """Things of one person: a notification and an API token each of Bob and of acme-user."""
    cast = world.cast
    for name in ("bob", "acme_user"):
        user: User = getattr(cast, name)
        note = Notification.objects.create(
            user=user,
            kind="ticket_assigned",
            customer=cast.acme,
            title=f"{name}-secret-notification",
            event_key=f"probe-{name}",
        )
        world.add(
            Instance(
                "notification",
                f"{name}'s notification",
                note.pk,
                None,
                frozenset({name}),
                (f"{name}-secret-notification",),
            )
        )
        if user.is_provider_staff:  # a personal saved view of the queue (provider agents only)
            view = SavedView.objects.create(
                owner=user, name=f"{name}-secret-view", filters={"priority": "P1"}
            )
            world.add(
                Instance(
                    "saved_view",
                    f"{name}'s saved view",
                    view.pk,
                    None,
                    frozenset({name}),
                    (f"{name}-secret-view",),
                )
            )
        token, _ = token_issue(user=user, name=f"{name}-secret-token")
        world.add(
            Instance(
                "token", f"{name}'s API token", token.pk, None, frozenset({name}), (f"{name}-secret-token",)
            )
        )


def _family_world(world: World, customers: list[Customer]) -> None:
    """Each customer's ticket linked (related) to a second ticket of its own, the links' ids
    colliding; and each ticket's collaborator (Acme's copied colleague; Globex's admin, copied
    on its ticket), whom the ticket's people see and may take off it."""
    cast = world.cast
    tickets = {i.customer: i for i in world.instances["ticket"]}
    others = _twins(
        Ticket,
        customers,
        lambda customer: workflows.ticket_create(
            customer=customer,
            by=getattr(cast, PLAIN[customer.slug]),
            new=workflows.NewTicket(subject=f"{customer.slug}-secret-linked-ticket"),
        ),
    )

    def link(customer: Customer) -> TicketLink:
        return family.link_add(
            customer=customer,
            ticket=Ticket.objects.get(pk=tickets[customer.slug].value),
            by=cast.alice,
            kind="related",
            other=others[customer.slug],
        )

    links = _twins(TicketLink, customers, link)
    for customer in customers:
        slug = customer.slug
        ticket = tickets[slug]
        markers = (*ticket.markers, f"{slug}-secret-linked-ticket")
        world.add(
            Instance("ticket_link", f"{slug} ticket's link", links[slug].pk, slug, ticket.seen_by, markers)
        )
        copied = COPIED[slug][0] if COPIED[slug] else ADMIN[slug]
        with customer_schema(customer):
            collaborators.grant(Ticket.objects.get(pk=ticket.value), getattr(cast, copied))
        world.add(
            Instance(
                "collaborator",
                f"{slug} ticket's collaborator",
                _profile_pk(cast, copied),
                slug,
                ticket.seen_by,
                ticket.markers,
            )
        )


def _mail_world(world: World, customers: list[Customer]) -> None:
    """A mail in triage (no customer's: the provider staff's to place)."""
    raw = (
        b"From: stranger@nowhere.test\r\nTo: support@localhost\r\nSubject: triage-secret-subject\r\n"
        b"Message-ID: <probe-triage@nowhere.test>\r\n\r\ntriage-secret-body\r\n"
    )
    stored = store_raw(raw, envelope_from="stranger@nowhere.test", envelope_to=["support@localhost"])
    processing.process(stored.id)
    world.add(Instance("triage_mail", "a mail in triage", stored.id, None, STAFF, ("triage-secret-subject",)))
    # each customer's ticket "came by email": its stored original (a public row: ids differ)
    tickets = {i.customer: i for i in world.instances["ticket"]}
    for customer in customers:
        slug = customer.slug
        raw = (
            f"From: x@{slug}.test\r\nSubject: {slug}-secret-mail\r\n\r\n{slug}-secret-mail-body\r\n".encode()
        )
        routed = InboundMessage.objects.create(
            raw=raw,
            sha256=f"{slug:0<64}"[:64],
            source="smtp",
            size=len(raw),
            received_at=timezone.now(),
            state="ticket",
            customer=customer,
            ticket_id=tickets[slug].value,
            reason="probe",
        )
        world.add(
            Instance(
                "routed_mail",
                f"{slug}'s mail",
                routed.pk,
                slug,
                _seen_in(slug, *AGENTS[slug]),
                (f"{slug}-secret-mail",),
            )
        )


def _mailbox_world(world: World, customers: list[Customer]) -> None:
    """An IMAP mailbox pinned to acme: the provider admins' (agents are refused with 403, which
    is not a 404: the matrix counts them as let through), never the customers' people."""
    mailbox = mailbox_create(
        fields=MailboxFields(
            host="imap.provider-secret-mailbox.test",
            username="mailbox-secret-user",
            password="mailbox-secret-password",
            customer=world.cast.acme,
        )
    )
    markers = ("provider-secret-mailbox", "mailbox-secret-user", "mailbox-secret-password")
    world.add(Instance("mailbox", "an IMAP mailbox", mailbox.pk, None, STAFF, markers))


def _canned_world(world: World, customers: list[Customer]) -> None:
    """Canned responses: Bob's personal one (his alone) and one limited to globex (the provider
    staff who work globex: alice and charlie, not bob)."""
    cast = world.cast
    personal = CannedResponse.objects.create(
        name="bob-secret-canned", body="bob-secret-canned-body", scope=Scope.PERSONAL, owner=cast.bob
    )
    world.add(
        Instance(
            "canned_response",
            "bob's canned response",
            personal.pk,
            None,
            frozenset({"bob"}),
            ("bob-secret-canned",),
        )
    )
    limited = CannedResponse.objects.create(
        name="globex-secret-canned",
        body="globex-secret-canned-body",
        scope=Scope.CUSTOMER,
        customer=cast.globex,
    )
    world.add(
        Instance(
            "canned_response",
            "globex's canned response",
            limited.pk,
            None,
            frozenset({"alice", "charlie"}),
            ("globex-secret-canned",),
        )
    )


def _links_world(world: World, customers: list[Customer]) -> None:
    """Activation links, each good on one host only: an agent's on the console, a customer
    user's on their own portal. Made last: signing in changes a person's link."""
    cast = world.cast
    for name, host in (
        ("bob", CONSOLE_HOST),
        ("acme_user", portal_host("acme")),
        ("globex_user", portal_host("globex")),
    ):
        user: User = getattr(cast, name)
        user.refresh_from_db()
        link = {
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        }
        world.add(
            Instance(
                "activation", f"{name}'s activation link", link, None, frozenset(), (user.email,), host=host
            )
        )


# The month the contracts world issues each customer's service report for.
REPORT_MONTH = "2026-11"


def _contracts_world(world: World, customers: list[Customer]) -> None:
    """A contract with a prepaid block per customer, and that customer's service report of
    ``REPORT_MONTH``, issued (the report names the contract: its marker)."""
    cast = world.cast
    for customer in customers:
        slug = customer.slug
        contract = contract_create(
            customer=customer,
            by=cast.alice,
            values={
                "name": f"{slug}-secret-contract",
                "starts_on": date(2026, 1, 1),
                "prepaid_hours": Decimal(10),
            },
        )
        seen = _seen_in(slug, *CUSTOMER_PEOPLE[slug])
        markers = (f"{slug}-secret-contract",)
        world.add(Instance("contract", f"{slug}'s contract", contract.pk, slug, seen, markers))
        report_issue(customer=customer, month=date(2026, 11, 1), by=cast.alice)
        world.add(Instance("report_month", f"{slug}'s issued month", REPORT_MONTH, slug, seen, markers))


def _automations_world(world: World, customers: list[Customer]) -> None:
    """An automation rule per customer (the provider's admins write it; its member agents are
    refused with 403, counted as let through; its own people never see it) and a provider-wide
    one (provider staff, the same way)."""
    cast = world.cast

    def rule(customer: Customer | None, name: str) -> int:
        fields = automation_services.RuleFields(
            name=name, event="created", actions=[{"action": "note", "body": f"{name}-body"}]
        )
        return automation_services.rule_create(by=cast.alice, customer=customer, fields=fields).pk

    for customer in customers:
        slug = customer.slug
        pk = rule(customer, f"{slug}-secret-rule")
        world.add(
            Instance(
                "automation_rule",
                f"{slug}'s automation rule",
                pk,
                slug,
                MEMBERS[slug],
                (f"{slug}-secret-rule",),
            )
        )
    pk = rule(None, "provider-secret-rule")
    world.add(
        Instance(
            "provider_automation_rule", "a provider-wide rule", pk, None, STAFF, ("provider-secret-rule",)
        )
    )


def _satisfaction_world(world: World, customers: list[Customer]) -> None:
    """Each customer's ticket rated (so that its rating reads through), and its survey email's
    rating link, good on its own portal only (the signed link is the credential)."""
    for customer in customers:
        slug = customer.slug
        pk = next(i.value for i in world.instances["ticket"] if i.customer == slug)
        with customer_schema(customer):
            ticket = Ticket.objects.get(pk=pk)
            Rating.objects.create(
                ticket=ticket,
                score="good",
                comment=f"{slug}-secret-rating",
                rated_by=ticket.requester_user,
                rated_at=timezone.now(),
                sla_met=True,
            )
        world.add(
            Instance(
                "rating_link",
                f"{slug}'s rating link",
                rating_token(customer=customer, ticket=ticket, score="okay"),
                slug,
                frozenset(),
                (f"{slug}-secret-ticket", f"{slug}-secret-rating"),
                host=portal_host(slug),
            )
        )


def _request_types_world(world: World, customers: list[Customer]) -> None:
    """A request type per customer (every one of the customer reads it, its member agents and
    the provider's admins too; provider admins write it) and a library entry (provider staff)."""
    cast = world.cast
    fields = definitions_clean([{"key": "secret_code", "label": "Secret code", "kind": "text"}])
    for customer in customers:
        slug = customer.slug
        with customer_schema(customer):
            made = type_services.request_type_create(
                customer=customer,
                by=cast.alice,
                values=type_services.TypeValues(name=f"{slug}-secret-type", fields=fields),
            )
        seen = _seen_in(slug, *CUSTOMER_PEOPLE[slug])
        world.add(
            Instance("request_type", f"{slug}'s request type", made.pk, slug, seen, (f"{slug}-secret-type",))
        )
    entry = type_services.library_save(entry=None, values={"name": "library-secret-type", "fields": fields})
    world.add(
        Instance(
            "library_request_type", "a library request type", entry.pk, None, STAFF, ("library-secret-type",)
        )
    )


def _notification_rules_world(world: World, customers: list[Customer]) -> None:
    """A notification rule per customer (the provider's admins read and write it; its member
    agents are refused with 403, counted as let through; its own people never see it) and a
    provider-wide one (provider staff, the same way)."""
    cast = world.cast

    def rule(customer: Customer | None, name: str) -> int:
        values = {
            "name": name,
            "event": "resolved",
            "recipients": [{"role": "requester"}],
            "channels": ["email"],
        }
        return notification_configure.rule_create(customer=customer, by=cast.alice, values=values).pk

    for customer in customers:
        slug = customer.slug
        pk = rule(customer, f"{slug}-secret-notice")
        world.add(
            Instance(
                "notification_rule",
                f"{slug}'s notification rule",
                pk,
                slug,
                MEMBERS[slug],
                (f"{slug}-secret-notice",),
            )
        )
    pk = rule(None, "provider-secret-notice")
    world.add(
        Instance(
            "provider_notification_rule",
            "a provider-wide notification rule",
            pk,
            None,
            STAFF,
            ("provider-secret-notice",),
        )
    )


# How the objects of each kind a path argument can name are made (tests.probes.matrix.KWARG_KINDS
# maps the arguments to these kinds). Builders run once each, in this order.
BUILDERS: dict[str, Any] = {
    "customer": _people_world,
    "customer_user": _people_world,
    "ticket": _ticket_world,
    "attachment": _ticket_world,
    "ci": _cmdb_world,
    "relation": _cmdb_world,
    "agent": _provider_world,
    "business_hours": _provider_world,
    "sla_policy": _provider_world,
    "notification": _personal_world,
    "token": _personal_world,
    "saved_view": _personal_world,
    "import": _imports_world,
    "ticket_link": _family_world,  # after the tickets it links
    "collaborator": _family_world,
    "canned_response": _canned_world,
    "mailbox": _mailbox_world,
    "triage_mail": _mail_world,
    "routed_mail": _mail_world,
    "rating_link": _satisfaction_world,  # after the tickets it rates
    "contract": _contracts_world,
    "automation_rule": _automations_world,
    "request_type": _request_types_world,
    "library_request_type": _request_types_world,
    "provider_automation_rule": _automations_world,
    "notification_rule": _notification_rules_world,
    "provider_notification_rule": _notification_rules_world,
    "report_month": _contracts_world,
    "activation": _links_world,  # last: signing in (the callers) changes a person's link
}


def module_world(django_db_blocker: Any, media_root: Path) -> Iterator[World]:
    """For a module-scoped fixture: the world of the session's cast, database access unblocked."""
    from tests import conftest

    assert conftest._CAST is not None, "the cast is built by django_db_setup"
    with django_db_blocker.unblock(), world_of(conftest._CAST, media_root) as built:
        yield built


# Sign-in attempts hash the password given even for unknown people (against timing attacks); with
# the production hasher that is ~0.2 s a probe. The cast's own hashes still verify (second).
FAST_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


@contextmanager
def world_of(cast: Cast, media_root: Path) -> Iterator[World]:
    """The world, inside a transaction rolled back when the context ends."""
    with override_settings(MEDIA_ROOT=str(media_root), PASSWORD_HASHERS=FAST_HASHERS), transaction.atomic():
        for value in vars(cast).values():
            value.refresh_from_db()
        with job_context("tests.probes"):
            day_passes_buy(by=cast.alice, quantity=100)
            world = World(cast=cast, callers=_callers(cast))
            for build in dict.fromkeys(BUILDERS.values()):
                build(world, [cast.acme, cast.globex])
        try:
            yield world
        finally:
            transaction.set_rollback(True)
            forget_hosts()
