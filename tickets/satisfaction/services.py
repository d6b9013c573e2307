"""Satisfaction surveys: who may rate a ticket and when (``rating_record``), the signed one-click
links of the survey email (``rating_links``, ``rating_link_read``) and whether a customer asks at
all (``surveys_on``, a customer setting)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.changes import UNSET
from core.errors import RuleViolation
from core.links import portal_link
from tenants.models import Customer
from tickets.models import Status, Ticket, TicketEvent
from tickets.satisfaction.models import Rating, Score, SurveyRequest

RATED_STATUSES = (Status.RESOLVED, Status.CLOSED)
MAX_COMMENT = 2000
LINK_SALT = "tickets.satisfaction.rating-link"
LINK_VALIDITY = timedelta(days=14)
NOT_REQUESTER = "Only the ticket's requester can rate it."
NOT_RESOLVED = "Only a resolved or closed ticket can be rated."


def surveys_on(customer: Customer) -> bool:
    """Whether ``customer`` asks its people to rate their resolved tickets (a setting)."""
    try:
        return bool(customer.settings.satisfaction_surveys)
    except ObjectDoesNotExist:
        return False


def may_rate(user: User, ticket: Ticket) -> bool:
    """Only the requester rates, and only as a customer user (an agent who opened a ticket for
    themselves does not rate their own team's work)."""
    return user.pk == ticket.requester_user_id and not user.may_use_console


def reads_rating(user: User, ticket: Ticket, *, agent: bool) -> bool:
    """The requester and the agents read a ticket's rating (api.md), nobody else of the customer."""
    return agent or user.pk == ticket.requester_user_id


def rating_check(*, ticket: Ticket, by: User) -> None:
    if not may_rate(by, ticket):
        raise PermissionDenied(NOT_REQUESTER)


def sla_met(ticket: Ticket) -> bool:
    """Neither clock breached (as the sweep recorded it on the ticket)."""
    return ticket.first_response_breached_at is None and ticket.resolution_breached_at is None


def rating_record(
    *, customer: Customer, ticket: Ticket, by: User, score: str, comment: str = UNSET
) -> Rating:
    """Rate ``ticket`` (or rate it again: the one rating is replaced). A comment left UNSET keeps
    the one given before (a one-click link carries only the score)."""
    rating_check(ticket=ticket, by=by)
    errors: dict[str, list[str]] = {}
    if score not in Score.values:
        errors["score"] = [f"Give one of {', '.join(Score.values)}."]
    if comment is not UNSET and len(comment) > MAX_COMMENT:
        errors["comment"] = [f"At most {MAX_COMMENT} characters."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The ticket's row lock orders two ratings of one ticket; its status is read under it.
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.status not in RATED_STATUSES:
            raise RuleViolation("ticket_not_resolved", NOT_RESOLVED, status=409)
        if locked.merged_into_id is not None:
            raise RuleViolation(
                "ticket_merged", "This ticket was merged into another one: rate that one.", status=409
            )
        values: dict[str, Any] = {
            "score": score,
            "rated_by": by,
            "rated_at": timezone.now(),
            "sla_met": sla_met(locked),
        }
        if comment is not UNSET:
            values["comment"] = comment.strip()
        rating = Rating.objects.filter(ticket=locked).first()
        if rating is None:
            return Rating.objects.create(ticket=locked, **values)
        for name, value in values.items():
            setattr(rating, name, value)
        rating.save(update_fields=[*values])  # one by one: audited
        return rating


# --- the survey email's one-click links ------------------------------------------------------------


def rating_token(*, customer: Customer, ticket: Ticket, score: str) -> str:
    """A signed, salted token naming the customer, the ticket, its requester and a score."""
    payload = {"c": customer.schema_name, "t": ticket.pk, "u": ticket.requester_user_id, "s": score}
    return signing.dumps(payload, salt=LINK_SALT)


class LinkRefused(Exception):
    """A rating link that was altered (400) or is older than ``LINK_VALIDITY`` (410)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class LinkRating:
    ticket: Ticket
    user: User
    score: str


def rating_link_read(*, customer: Customer, token: str) -> LinkRating:
    """What a link asks, inside ``customer``'s schema (the portal host's). A link of another
    customer, or whose ticket or requester is not there, is Http404, as on any other page."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=LINK_VALIDITY)
    except signing.SignatureExpired:
        raise LinkRefused(
            410,
            f"This rating link has expired (links are valid {LINK_VALIDITY.days} days). "
            "Sign in to rate the ticket on its page.",
        ) from None
    except signing.BadSignature:
        raise LinkRefused(400, "This rating link is not valid: it was changed or cut short.") from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("t"), int)
        and isinstance(payload.get("u"), int)
        and payload.get("s") in Score.values
    ):
        raise LinkRefused(400, "This rating link is not valid.")
    if payload.get("c") != customer.schema_name:
        raise Http404
    ticket = Ticket.objects.select_related("requester_user").filter(pk=payload["t"]).first()
    if ticket is None or ticket.requester_user_id != payload["u"] or not ticket.requester_user.is_active:
        raise Http404
    return LinkRating(ticket=ticket, user=ticket.requester_user, score=payload["s"])


def rating_links(*, customer: Customer, event: TicketEvent, user: User) -> dict[str, str]:
    """The survey of a resolution's notice to ``user``: score -> one-click link, or nothing when
    ``user`` is not the one who rates, the customer asks no one, or the ticket was asked
    already (by another event: the same event, delivered again, asks in the same words). Records
    that it asked."""
    ticket = event.ticket
    if not may_rate(user, ticket) or not surveys_on(customer):
        return {}
    asked, _ = SurveyRequest.objects.get_or_create(
        ticket=ticket, defaults={"event": event, "asked_at": timezone.now()}
    )
    if asked.event_id != event.pk:
        return {}
    return {
        score: portal_link(
            customer.portal_host,
            "satisfaction-rate",
            rating_token=rating_token(customer=customer, ticket=ticket, score=score),
        )
        for score in Score.values
    }


def survey_text(links: dict[str, str]) -> str:
    """The survey's paragraph of the message; empty without links."""
    if not links:
        return ""
    lines = [f"{Score(score).label}: {url}" for score, url in links.items()]
    return "\n".join(
        [
            "",
            "",
            "How did we do? One click rates this ticket:",
            *lines,
            f"(The links are valid {LINK_VALIDITY.days} days; you may add a comment after.)",
        ]
    )
