"""Automation rules live in the public schema: a provider-wide rule (no customer) runs on every
customer's tickets, a customer's rule on that customer's only. What the rules did is kept beside
them (``RuleAction``, ``TimeFiring``, ``RotationPointer``), keyed by customer and ticket id: a
public table cannot point at a customer's ticket table (django-tenants), so the ticket is an id.

The rule language (the conditions and actions, as JSON) is ``automations.language``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


def job_name(rule_name: str) -> str:
    """What a rule's changes are audited under, beside its owner (``audit.AuditEntry.job``)."""
    return f"automation:{rule_name}"[:100]


class Event(models.TextChoices):
    CREATED = "created", "A ticket is created"
    UPDATED = "updated", "A ticket is updated"
    CUSTOMER_REPLY = "customer_reply", "The customer replies"
    TIME = "time", "Time passes (a ticket stays in a status)"


class Rule(models.Model):
    """When ``event`` happens to a ticket whose fields meet every one of ``conditions``, do
    ``actions`` in order, as ``owner`` (the admin who made the rule), audited under the rule's
    name. Provider rules (no customer) run first, then the customer's; each by ``position``.
    A time rule's ``wait`` says how long a ticket must stay in which status."""

    customer = models.ForeignKey(
        "tenants.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=80)
    event = models.CharField(max_length=16, choices=Event.choices)
    conditions: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list, blank=True)
    actions: models.JSONField[list[dict[str, Any]]] = models.JSONField(default=list)
    wait: models.JSONField[dict[str, Any] | None] = models.JSONField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        db_table = "automation_rule"
        ordering = ["customer_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "name"],
                nulls_distinct=False,
                name="automation_rule_one_name_per_customer",
            ),
            models.CheckConstraint(
                condition=models.Q(event=Event.TIME, wait__isnull=False)
                | (~models.Q(event=Event.TIME) & models.Q(wait__isnull=True)),
                name="automation_rule_wait_only_for_time",
            ),
        ]
        indexes = [models.Index(fields=["customer", "enabled"], name="automation_rule_customer")]

    def __str__(self) -> str:
        return self.name

    OWNER_INACTIVE = "owner inactive: this rule does not run"

    @property
    def stopped_because(self) -> str | None:
        """Why the rule does not run though enabled (its owner was deactivated), or None."""
        return None if self.owner.is_active else self.OWNER_INACTIVE

    @property
    def runs(self) -> bool:
        return self.enabled and self.stopped_because is None

    @property
    def job(self) -> str:
        return job_name(self.name)


class RotationPointer(models.Model):
    """Round-robin's memory, per rule and customer: the agent who got the last ticket. Read and
    moved under its row lock, so concurrent tickets take turns."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    last_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "automation_rotation"
        constraints = [
            models.UniqueConstraint(fields=["rule", "customer"], name="automation_rotation_one_per_rule"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} in customer {self.customer_id}: after user {self.last_agent_id}"


class Outcome(models.TextChoices):
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"  # the ticket's rules said no (a transition it cannot make, say)
    LIMITED = "limited", "Stopped by the loop guard"


class RuleAction(models.Model):
    """One action a rule took (or tried) on a ticket: the loop guard counts these per ticket,
    and the rule's page lists them."""

    rule = models.ForeignKey(Rule, null=True, on_delete=models.SET_NULL, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    ticket_id = models.BigIntegerField()
    action = models.CharField(max_length=16)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        db_table = "automation_action"
        indexes = [models.Index(fields=["customer", "ticket_id", "at"], name="automation_action_ticket")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} on ticket {self.ticket_id}: {self.action} {self.outcome}"


class TimeFiring(models.Model):
    """A time rule fired on a ticket for the stretch that began at ``since`` (the instant the
    ticket entered the status): once per stretch, whatever runs twice. A ticket that leaves the
    status and comes back starts a new stretch."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("tenants.Customer", on_delete=models.CASCADE, related_name="+")
    ticket_id = models.BigIntegerField()
    since = models.DateTimeField()
    fired_at = models.DateTimeField()

    class Meta:
        db_table = "automation_time_firing"
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer", "ticket_id", "since"], name="automation_time_firing_once"
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} on ticket {self.ticket_id} since {self.since:%Y-%m-%d %H:%M}"
