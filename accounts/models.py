"""Login identities (public schema): provider admins, agents and customer users.

One row per person, email as login. Customer users also have a profile inside their customer's
schema (``people.CustomerUser``); everything that decides access lives here so that it can be
checked on every request without touching a customer schema.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.crypto import salted_hmac

from audit.querysets import AuditedQuerySet


class UserKind(models.TextChoices):
    PROVIDER_ADMIN = "provider_admin", "Provider admin"
    AGENT = "agent", "Agent"
    CUSTOMER_USER = "customer_user", "Customer user"


class Licence(models.TextChoices):
    FULL_TIME = "full_time", "Full-time"
    OCCASIONAL = "occasional", "Occasional"


class CustomerRole(models.TextChoices):
    USER = "user", "User"
    ADMIN = "admin", "Customer admin"
    AGENT = "agent", "Customer agent"


class Scope(models.TextChoices):
    """The parts of a customer an occasional agent's permissions cover: "tickets" is everything
    of a customer but the CMDB (tickets, comments, attachments, assignment, the customer's users,
    SLA explanations); "cmdb" the configuration items and their relations; "reports" the report
    views."""

    TICKETS = "tickets", "Tickets"
    CMDB = "cmdb", "CMDB"
    REPORTS = "reports", "Reports"


class ScopeLevel(models.TextChoices):
    NONE = "none", "No access"
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


# Each scope's levels, lowest to highest; an occasional agent's level when none is given; and how
# a refusal names the scope ("Your access to the CMDB is read-only.").
SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    Scope.TICKETS.value: (ScopeLevel.READ.value, ScopeLevel.WRITE.value),
    Scope.CMDB.value: (ScopeLevel.NONE.value, ScopeLevel.READ.value, ScopeLevel.WRITE.value),
    Scope.REPORTS.value: (ScopeLevel.NONE.value, ScopeLevel.READ.value),
}
OCCASIONAL_DEFAULTS: dict[str, str] = {
    Scope.TICKETS.value: ScopeLevel.WRITE.value,
    Scope.CMDB.value: ScopeLevel.READ.value,
    Scope.REPORTS.value: ScopeLevel.NONE.value,
}
SCOPE_NAMES: dict[str, str] = {
    Scope.TICKETS.value: "tickets",
    Scope.CMDB.value: "the CMDB",
    Scope.REPORTS.value: "reports",
}


class UserManager(BaseUserManager["User"]):
    def get_queryset(self) -> AuditedQuerySet[User]:
        return AuditedQuerySet(self.model, using=self._db)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser):
    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=20, choices=UserKind.choices)
    # NULL means "no licence" (customer users); the API shows it as null.
    licence = models.CharField(max_length=12, choices=Licence.choices, null=True, blank=True)  # noqa: DJ001
    timezone = models.CharField(max_length=64, default="UTC")
    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="people"
    )
    customer_role = models.CharField(max_length=10, choices=CustomerRole.choices, null=True, blank=True)  # noqa: DJ001
    all_customers = models.BooleanField(
        default=False, help_text="Agents only: member of every customer, present and future."
    )
    permissions = models.JSONField(default=dict, blank=True, help_text="Occasional agents' scopes.")
    is_active = models.BooleanField(default=True)
    # Rotated when a person is deactivated: every session signed with the old stamp ends.
    auth_stamp = models.UUIDField(default=uuid.uuid4, editable=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)
    # Set by the email channel when mail to this address comes back as a delivery report.
    email_bouncing_since = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind="customer_user",
                        customer__isnull=False,
                        customer_role__isnull=False,
                        licence__isnull=True,
                        all_customers=False,
                    )
                    | models.Q(
                        kind__in=["provider_admin", "agent"],
                        customer__isnull=True,
                        customer_role__isnull=True,
                        licence__isnull=False,
                    )
                ),
                name="accounts_user_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_provider_admin(self) -> bool:
        return self.kind == UserKind.PROVIDER_ADMIN

    @property
    def is_provider_staff(self) -> bool:
        """Provider admins and agents: the people of the MSP itself."""
        return self.kind in (UserKind.PROVIDER_ADMIN, UserKind.AGENT)

    @property
    def is_customer_user(self) -> bool:
        return self.kind == UserKind.CUSTOMER_USER

    @property
    def is_agent_level(self) -> bool:
        """Provider staff and customers' own agents: who works tickets (private notes, the
        console); everyone else is the customer's side."""
        return self.is_provider_staff or self.customer_role == CustomerRole.AGENT

    @property
    def may_use_console(self) -> bool:
        return self.is_agent_level

    def _get_session_auth_hash(self, secret: Any = None) -> str:
        # Django's hash covers the password; ours also covers auth_stamp, so deactivation ends
        # every session at once and reactivation does not bring old ones back.
        return salted_hmac(
            "serviflow.accounts.User.session",
            f"{self.password}:{self.auth_stamp}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class AgentMembership(models.Model):
    """An agent's membership in one customer (agents with ``all_customers`` need none)."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "customer"], name="accounts_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} in {self.customer_id}"


def token_digest(raw_token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is the right lookup key (no PBKDF2)."""
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiTokenQuerySet(AuditedQuerySet["ApiToken"]):
    def live(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, shown to recognise it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None
