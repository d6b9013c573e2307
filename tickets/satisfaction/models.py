"""Satisfaction surveys live in each customer's schema, beside the tickets they rate: one rating
per ticket (rating again replaces it) and one record that the requester was asked, so that a
ticket resolved again after a reopen is not asked twice."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.querysets import AuditedQuerySet


class Score(models.TextChoices):
    GOOD = "good", "Good"
    OKAY = "okay", "Okay"
    BAD = "bad", "Bad"


class Rating(models.Model):
    """The requester's rating of a resolved or closed ticket, with whether the ticket's SLA was
    met (neither clock breached) when it was rated."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.PROTECT, related_name="rating")
    score = models.CharField(max_length=4, choices=Score.choices)
    comment = models.TextField(blank=True, max_length=2000)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    rated_at = models.DateTimeField()
    sla_met = models.BooleanField()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__in=Score.values), name="satisfaction_rating_score_valid"
            ),
        ]
        indexes = [models.Index(fields=["rated_at"], name="satisfaction_rating_rated_at")]

    def __str__(self) -> str:
        return f"{self.score} for ticket {self.ticket_id}"


class SurveyRequest(models.Model):
    """The requester was asked to rate the ticket, in the notification of ``event`` (its
    resolution): a redelivered event asks again in the same words, a later one never."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey("tickets.TicketEvent", on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"survey of ticket {self.ticket_id}"
