from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.models import Licence, User
from accounts.services import AgentFields, agent_create
from audit.context import job_context
from core.links import console_url
from people.services import CustomerUserFields, customer_user_create
from tenants.models import Customer
from tenants.platform import ensure_public_tenant
from tenants.schema import customer_schema
from tenants.services import customer_provision

DEMO_PASSWORD = "serviflow-demo"  # noqa: S105 - documented demo credentials
PROVIDER = "Demo MSP"
CUSTOMERS = [
    ("acme", "Acme Corporation", "Europe/Berlin"),
    ("globex", "Globex", "America/New_York"),
    ("initech", "Initech", "America/Chicago"),
]
AGENTS = [
    AgentFields(email="admin@demo-msp.test", name="Ada Admin", is_admin=True, timezone="Europe/London"),
    AgentFields(
        email="fulltime@demo-msp.test",
        name="Frank Fulltime",
        licence=Licence.FULL_TIME,
        timezone="Europe/London",
    ),
    AgentFields(
        email="occasional@demo-msp.test",
        name="Olivia Occasional",
        licence=Licence.OCCASIONAL,
        timezone="America/New_York",
    ),
]
DEMO_TICKETS = [
    ("Cannot connect to the VPN", "P2", "Since this morning the VPN client says 'authentication failed'."),
    ("New laptop for the new hire", "P4", "Anna starts on Monday; she needs a laptop and an account."),
    ("Printer on floor 2 jams", "P3", "Every second page jams."),
    ("Email is down for the whole office", "P1", "Nobody can send or receive email."),
]
DEMO_TARGETS = {
    "P1": {"first_response": 15, "resolution": 240},
    "P2": {"first_response": 30, "resolution": 480},
    "P3": {"first_response": 120, "resolution": 1440},
    "P4": {"first_response": 480, "resolution": 4320},
}
# name, type, parent, extra fields ("sla_policy": True means the demo's Gold policy).
DEMO_CIS: list[tuple[str, str, str | None, dict[str, Any]]] = [
    ("hq", "other", None, {"attributes": {"address": "1 Main Street"}}),
    ("rack-1", "other", "hq", {"sla_policy": True, "attributes": {"units": 42}}),
    ("mail-01", "server", "rack-1", {"attributes": {"os": "Debian 12", "ram_gb": 32}}),
    ("db-01", "server", "rack-1", {"attributes": {"os": "Debian 12", "ram_gb": 64}}),
    ("crm", "application", None, {"attributes": {"vendor": "In-house", "version": "4.2"}}),
    ("core-switch", "network", "hq", {"attributes": {"model": "48-port PoE", "ip": "10.0.0.2"}}),
    ("laptop-user", "workstation", None, {"owner": True, "attributes": {"model": "ThinkPad T14"}}),
]
DEMO_RELATIONS = [
    ("crm", "runs_on", "db-01"),
    ("mail-01", "connected_to", "core-switch"),
    ("db-01", "connected_to", "core-switch"),
]
MEMBERSHIPS = {"fulltime@demo-msp.test": ["acme", "globex"], "occasional@demo-msp.test": ["initech"]}


class Command(BaseCommand):
    help = "Create the demo provider, agents, customers and users. Running it again changes nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        with job_context("manage.seed_demo"):
            ensure_public_tenant(provider_name=PROVIDER)
            customers = {slug: self._customer(slug, name, tz) for slug, name, tz in CUSTOMERS}
            for fields in AGENTS:
                if not User.objects.filter(email=fields.email).exists():
                    slugs = MEMBERSHIPS.get(fields.email, [])
                    agent_create(
                        fields=AgentFields(
                            **{**fields.__dict__, "customers": tuple(customers[s] for s in slugs)}
                        ),
                        password=DEMO_PASSWORD,
                    )
            for slug, customer in customers.items():
                people = [
                    (f"admin@{slug}.test", f"{customer.name} Admin", "admin"),
                    (f"user@{slug}.test", f"{customer.name} User", "user"),
                    (f"it@{slug}.test", f"{customer.name} IT", "agent"),
                ]
                with customer_schema(customer):
                    for email, name, role in people:
                        if not User.objects.filter(email=email).exists():
                            customer_user_create(
                                customer=customer,
                                fields=CustomerUserFields(
                                    email=email, name=name, role=role, timezone=customer.timezone
                                ),
                                password=DEMO_PASSWORD,
                            )
                    self._cmdb(customer)
                    self._tickets(customer)
            self._day_passes()
        self._print(customers)

    def _day_passes(self) -> None:
        """A pool for the demo's occasional agent (bought once, by the demo admin)."""
        from billing.models import DayPassPurchase
        from billing.services import day_passes_buy

        if not DayPassPurchase.objects.exists():
            day_passes_buy(by=User.objects.get(email="admin@demo-msp.test"), quantity=20)

    def _cmdb(self, customer: Customer) -> None:
        """A small site with an SLA on its rack (inherited below it), once per customer."""
        from cmdb import services
        from cmdb.models import ConfigurationItem
        from people.models import CustomerUser
        from sla.models import SlaPolicy

        if ConfigurationItem.objects.exists():
            return
        gold, _ = SlaPolicy.objects.get_or_create(
            name="Gold", defaults={"targets": DEMO_TARGETS, "warning_percent": 80}
        )
        owner = CustomerUser.objects.filter(user__email=f"user@{customer.slug}.test").first()
        made: dict[str, ConfigurationItem] = {}
        for name, ci_type, parent, extra in DEMO_CIS:
            if extra.get("sla_policy"):
                extra = {**extra, "sla_policy": gold}
            if extra.get("owner"):
                extra = {**extra, "owner": owner}
            made[name] = services.ci_create(
                customer=customer,
                by=None,
                new=services.NewCi(name=name, type=ci_type, parent=made.get(parent or ""), **extra),
            )
        for source, kind, target in DEMO_RELATIONS:
            services.ci_relate(
                customer=customer, source=made[source], target=made[target], kind=kind, by=None
            )

    def _tickets(self, customer: Customer) -> None:
        """A few tickets in different states, once (only when the customer has none)."""
        from tickets import workflows
        from tickets.models import Ticket

        if Ticket.objects.exists():
            return
        from cmdb.models import ConfigurationItem

        user = User.objects.get(email=f"user@{customer.slug}.test")
        mail_server = ConfigurationItem.objects.filter(name="mail-01").first()
        agent = User.objects.get(email="admin@demo-msp.test")
        for subject, priority, description in DEMO_TICKETS:
            ticket = workflows.ticket_create(
                customer=customer,
                by=user,
                new=workflows.NewTicket(
                    subject=subject,
                    priority=priority,
                    description=description,
                    ci=mail_server if subject.startswith("Email") else None,
                ),
            )
            if priority in ("P1", "P2"):
                workflows.ticket_update(
                    customer=customer,
                    ticket=ticket,
                    by=agent,
                    changes=workflows.TicketChanges(assignee=agent),
                )
                workflows.comment_add(
                    customer=customer,
                    ticket=ticket,
                    by=agent,
                    body="Looking into it now. Which room are you in?",
                )
                workflows.comment_add(
                    customer=customer,
                    ticket=ticket,
                    by=agent,
                    body="Checked monitoring: switch 3 flaps.",
                    public=False,
                )

    def _customer(self, slug: str, name: str, tz: str) -> Customer:
        existing = Customer.objects.filter(slug=slug).first()
        return existing or customer_provision(name=name, slug=slug, timezone_name=tz)

    def _print(self, customers: dict[str, Customer]) -> None:
        out = self.stdout.write
        out(self.style.SUCCESS(f"\nDemo data ready. Every demo password is: {DEMO_PASSWORD}"))
        out(f"  Console  {console_url('/')}")
        for fields in AGENTS:
            out(
                f"    {fields.email:<28} {'provider admin' if fields.is_admin else fields.licence + ' agent'}"
            )
        for slug, customer in customers.items():
            out(f"  Portal   {customer.portal_url}  ({customer.name})")
            out(f"    admin@{slug}.test, user@{slug}.test, it@{slug}.test (customer agent, uses the console)")
