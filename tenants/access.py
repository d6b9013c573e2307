"""The one place that decides who may see what: the provider's own routes and pages
(``provider_access``) and the customers (``customer_access``).

Provider level: each route or page exists for a ``Reach`` of people. To anyone outside it the
route does not exist (404), except that a provider agent asking for what only provider admins
may do is told so (403). Exposed once for the API (``serviflow.api.views.ProviderAccess``) and
once for pages (``serviflow.pages.provider_page``).

Customer level: provider admins see every customer (archived ones too); agents see the active
customers they are members of (or all, with ``all_customers``); a customer's own people see only
that customer. Anything else is "not found", never "forbidden": a foreign customer does not
exist for you. Exposed as ``serviflow.api.views.CustomerScopedMixin`` and
``serviflow.pages.customer_page``.

Inside a customer they may see, occasional agents are further limited per scope (``scope_level``,
``require_scope``): what they are refused there is "forbidden" (403), since the customer itself
is visible to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.models import (
    OCCASIONAL_DEFAULTS,
    SCOPE_LEVELS,
    SCOPE_NAMES,
    AgentMembership,
    CustomerRole,
    Licence,
    Scope,
    ScopeLevel,
    User,
    UserKind,
)
from tenants.models import Customer, CustomerQuerySet


class Reach(Enum):
    """Who a provider-level route or page exists for."""

    SIGNED_IN = "signed in"  # anyone signed in; the route shows them only their own
    CONSOLE = "console"  # console users: provider staff and customers' own agents
    STAFF = "provider staff"  # provider admins and agents
    ADMIN = "provider admins"  # provider admins only


ADMINS_ONLY = "Only provider admins can do this."


def provider_access(user: User, reach: Reach, *, refusal: str | None = None) -> None:
    """Http404 if the route does not exist for ``user``; PermissionDenied (``refusal``) for a
    provider agent on a route for provider admins. Signing in is checked before (401)."""
    if not user.is_authenticated or not user.is_active:
        raise Http404
    if reach == Reach.SIGNED_IN:
        return
    if reach == Reach.CONSOLE:
        if not user.may_use_console:
            raise Http404
        return
    if not user.is_provider_staff:
        raise Http404
    if reach == Reach.ADMIN and not user.is_provider_admin:
        raise PermissionDenied(refusal or ADMINS_ONLY)


def reaches(user: User, reach: Reach) -> bool:
    """``provider_access`` as a question (what a page offers to change, say)."""
    try:
        provider_access(user, reach)
    except (Http404, PermissionDenied):
        return False
    return True


POLICY_REFUSAL = "sla_policy: only your service provider sets SLA policies."


def require_sets_policies(by: User | None) -> None:
    """Only provider staff (or a named job, ``by`` None) choose SLA policies, on a user, a
    ticket or a CI; anyone else is refused, whichever policy they name."""
    if by is not None and not by.is_provider_staff:
        raise PermissionDenied(POLICY_REFUSAL)


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


def memberships_visible_to(user: User) -> QuerySet[AgentMembership]:
    """The agents' memberships ``user`` may know of: those in the customers they see themselves
    (provider admins: all). Another agent's list of customers is otherwise none of their business."""
    return AgentMembership.objects.filter(customer__in=customers_visible_to(user).values("pk"))


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

    def scope_level(self, scope: str) -> str:
        return scope_level(self.user, scope)

    def require_scope(self, scope: str, *, write: bool) -> None:
        require_scope(self, scope, write=write)

    @property
    def writes_tickets(self) -> bool:
        """May change tickets (and everything else of the customer but the CMDB)."""
        return self.scope_level(Scope.TICKETS) == ScopeLevel.WRITE

    @property
    def sees_cmdb(self) -> bool:
        return self.scope_level(Scope.CMDB) != ScopeLevel.NONE

    @property
    def writes_cmdb(self) -> bool:
        return self.scope_level(Scope.CMDB) == ScopeLevel.WRITE


def scope_level(user: User, scope: str) -> str:
    """``user``'s level in ``scope`` (one of ``SCOPE_LEVELS[scope]``, lowest to highest).
    Only occasional agents are limited; everyone else has the highest level of every scope. A
    level that is missing falls back to the default, one that is unknown to the lowest."""
    levels = SCOPE_LEVELS[scope]
    if not _scopes_limit(user):
        return levels[-1]
    permissions = user.permissions if isinstance(user.permissions, dict) else {}
    level = permissions.get(scope, OCCASIONAL_DEFAULTS[scope])
    return level if level in levels else levels[0]


def require_scope(who: CustomerAccess | User, scope: str, *, write: bool) -> None:
    """PermissionDenied, with a sentence naming the scope, unless ``who`` may read (or, with
    ``write``, change) what ``scope`` covers. Called by the API's and the console's customer
    gates (``CustomerScopedMixin``, ``customer_page``), after the customer itself was found."""
    user = who.user if isinstance(who, CustomerAccess) else who
    if not _scopes_limit(user):
        return
    level = scope_level(user, scope)
    if level == ScopeLevel.NONE:
        raise PermissionDenied(f"Your access does not include {SCOPE_NAMES[scope]}.")
    if write and level != ScopeLevel.WRITE:
        raise PermissionDenied(f"Your access to {SCOPE_NAMES[scope]} is read-only.")


def _scopes_limit(user: User) -> bool:
    """Scopes limit occasional agents only: full-time agents and provider admins (always
    full-time) have every scope; customers' own people are limited by their role instead."""
    return user.licence == Licence.OCCASIONAL and not user.is_provider_admin


def works_tickets_of(user: User, customer: Customer) -> bool:
    """May ``user`` work ``customer``'s tickets (be assigned, post private notes)?"""
    if not user.is_active:
        return False
    if user.is_customer_user:
        return user.customer_id == customer.pk and user.customer_role == CustomerRole.AGENT
    return customers_visible_to(user).filter(pk=customer.pk, is_active=True).exists()


def member_agents(customer: Customer) -> QuerySet[User]:
    """The provider agents who are members of ``customer`` (explicitly or through
    ``all_customers``), active ones, unordered."""
    member = AgentMembership.objects.filter(agent=OuterRef("pk"), customer=customer)
    return User.objects.filter(is_active=True, kind=UserKind.AGENT).filter(
        Q(all_customers=True) | Q(Exists(member))
    )


def ticket_workers(customer: Customer) -> QuerySet[User]:
    """Everyone who may work ``customer``'s tickets: provider admins, agents of all customers,
    member agents and the customer's own agents (active ones)."""
    return (
        User.objects.filter(is_active=True)
        .filter(
            Q(kind=UserKind.PROVIDER_ADMIN)
            | Q(pk__in=member_agents(customer).values("pk"))
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
    # With what a customer's requests read of it anyway (ticket references, attachment limits,
    # the default SLA policy of new tickets): one query instead of three.
    visible = customers_visible_to(user).select_related("settings", "default_sla__business_hours")
    customer = visible.filter(slug=slug).first()
    if customer is None:
        raise Http404
    return CustomerAccess(customer=customer, user=user)
