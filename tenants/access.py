"""The one place that decides who may see which customer.

Provider admins see every customer (archived ones too); agents see the active customers they
are members of (or all, with ``all_customers``); a customer's own people see only that customer.
Anything else is "not found", never "forbidden": a foreign customer does not exist for you.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import AgentMembership, CustomerRole, User, UserKind
from tenants.models import Customer, CustomerQuerySet


def customers_visible_to(user: User) -> CustomerQuerySet:
    customers = Customer.objects.customers()
    if user.kind == UserKind.PROVIDER_ADMIN:
        return customers
    if user.kind == UserKind.AGENT:
        if user.all_customers:
            return customers.filter(is_active=True)
        member = AgentMembership.objects.filter(agent=user, customer=OuterRef("pk"))
        return customers.filter(Q(is_active=True) & Exists(member))
    if user.kind == UserKind.CUSTOMER_USER and user.customer_id is not None:
        return customers.filter(pk=user.customer_id, is_active=True)
    return customers.none()


@dataclass(frozen=True)
class CustomerAccess:
    """What ``user`` is to ``customer``; only ever built for a customer the user may see."""

    customer: Customer
    user: User

    @property
    def is_provider_staff(self) -> bool:
        return self.user.is_provider_staff

    @property
    def is_provider_admin(self) -> bool:
        return self.user.is_provider_admin

    @property
    def customer_role(self) -> str | None:
        return self.user.customer_role if self.user.is_customer_user else None

    @property
    def works_tickets(self) -> bool:
        """Agent-level access: provider staff and the customer's own agents."""
        return self.is_provider_staff or self.customer_role == CustomerRole.AGENT

    @property
    def manages_users(self) -> bool:
        return self.works_tickets or self.customer_role == CustomerRole.ADMIN


def works_tickets_of(user: User, customer: Customer) -> bool:
    """May ``user`` work ``customer``'s tickets (be assigned, post private notes)?"""
    if not user.is_active:
        return False
    if user.is_customer_user:
        return user.customer_id == customer.pk and user.customer_role == CustomerRole.AGENT
    return customers_visible_to(user).filter(pk=customer.pk, is_active=True).exists()


def ticket_workers(customer: Customer) -> QuerySet[User]:
    """Everyone who may work ``customer``'s tickets: provider admins, agents of all customers,
    member agents and the customer's own agents (active ones)."""
    member = AgentMembership.objects.filter(agent=OuterRef("pk"), customer=customer)
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(kind=UserKind.PROVIDER_ADMIN)
            | Q(kind=UserKind.AGENT, all_customers=True)
            | Q(Exists(member), kind=UserKind.AGENT)
            | Q(kind=UserKind.CUSTOMER_USER, customer=customer, customer_role=CustomerRole.AGENT)
        )
        .order_by("name")
    )


def may_sign_in_on_host(user: User, tenant: Customer | None) -> bool:
    """Whose session a host honours: the console (public tenant) takes provider staff and
    customer agents; a portal takes only that customer's own people."""
    if tenant is None or not user.is_active:
        return False
    if tenant.schema_name == "public":
        return user.may_use_console
    return user.is_customer_user and user.customer_id == tenant.pk


def customer_access(user: User, slug: str) -> CustomerAccess:
    """The customer ``slug`` as ``user`` may see it, or Http404."""
    if not user.is_authenticated or not user.is_active:
        raise Http404
    customer = customers_visible_to(user).filter(slug=slug).first()
    if customer is None:
        raise Http404
    return CustomerAccess(customer=customer, user=user)
