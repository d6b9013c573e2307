"""Portal pages of satisfaction surveys: the one-click rating link of the survey email (no
sign-in: the signed link is the credential, good on its customer's portal only), the rating form
of a resolved ticket's page, and the customer admins' switch that turns surveys off."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import CustomerRole
from audit.context import person_context
from audit.middleware import client_ip
from audit.models import Channel
from core.changes import UNSET
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, portal_page, problem_of
from tenants.access import CustomerAccess
from tenants.models import Customer
from tenants.services import CustomerChanges, customer_update
from tickets import selectors
from tickets.index.services import display_number
from tickets.models import Ticket
from tickets.satisfaction import services
from tickets.satisfaction.models import Rating, Score


class CommentForm(forms.Form):
    comment = forms.CharField(required=False, max_length=services.MAX_COMMENT)


class RatingForm(CommentForm):
    score = forms.ChoiceField(choices=Score.choices)


class SurveysForm(forms.Form):
    satisfaction_surveys = forms.BooleanField(required=False)


def rating_prompt(access: CustomerAccess, ticket: Ticket) -> dict[str, Any] | None:
    """What the ticket page offers its requester once the ticket is resolved or closed: the
    rating form, with the rating given so far (None: nothing to offer)."""
    if (
        ticket.status not in services.RATED_STATUSES
        or not services.may_rate(access.user, ticket)
        or not services.surveys_on(access.customer)
    ):
        return None
    return {"rating": Rating.objects.filter(ticket=ticket).first(), "scores": Score.choices}


def _refused(request: HttpRequest, status: int, detail: str, ticket: Ticket | None = None) -> HttpResponse:
    context = {"refused": detail, "ticket": ticket}
    return render(request, "satisfaction/rate.html", context, status=status)


@require_http_methods(["GET", "POST"])
def rate_by_link(request: HttpRequest, rating_token: str) -> HttpResponse:
    """GET: record the link's score (one click); POST: the same with the optional comment. The
    rating is the requester's own act, whoever's browser follows their link."""
    customer: Customer | None = getattr(request, "tenant", None)
    if customer is None or not customer.is_customer:
        raise Http404
    try:
        link = services.rating_link_read(customer=customer, token=rating_token)
    except services.LinkRefused as exc:
        return _refused(request, exc.status, exc.detail)
    form = CommentForm(request.POST if request.method == "POST" else None)
    try:
        with person_context(link.user, channel=Channel.WEB, remote_addr=client_ip(request)):
            comment = cleaned(form)["comment"] if form.is_bound else UNSET
            rating = services.rating_record(
                customer=customer, ticket=link.ticket, by=link.user, score=link.score, comment=comment
            )
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return _refused(request, status, " ".join(problems), link.ticket)
    context = {
        "rating": rating,
        "ticket": link.ticket,
        "number": display_number(customer, link.ticket.number),
        "commented": form.is_bound,
    }
    return render(request, "satisfaction/rate.html", context)


@require_POST
@portal_page
def ticket_rate(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """The ticket page's rating form."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        data = cleaned(RatingForm(request.POST))
        services.rating_record(
            customer=access.customer,
            ticket=ticket,
            by=access.user,
            score=data["score"],
            comment=data["comment"],
        )
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return _refused(request, status, " ".join(problems), ticket)
    messages.success(request, "Thank you for rating this ticket.")
    return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": ticket.pk}))


@require_POST
@portal_page
def surveys_setting(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """The customer's admins turn satisfaction surveys on or off (the Users page's card)."""
    if access.customer_role != CustomerRole.ADMIN:
        raise PermissionDenied("Only your company's admins change its satisfaction surveys.")
    wanted = cleaned(SurveysForm(request.POST))["satisfaction_surveys"]
    customer_update(customer=access.customer, changes=CustomerChanges(satisfaction_surveys=wanted))
    messages.success(request, f"Satisfaction surveys are {'on' if wanted else 'off'}.")
    return HttpResponseRedirect(reverse("portal-users"))
