"""Portal pages on the customer's own host: submit, follow and answer tickets.

Everything is read through ``tickets.selectors`` with the person's access, so a ticket that is
not theirs (or does not exist, or is another customer's) is the same 404 page, and private
notes and their files never reach a portal page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from cmdb import selectors as cmdb_selectors
from serviflow.http import AuthenticatedHttpRequest
from serviflow.live import poll_headers, with_etag
from serviflow.pages import WORKFLOW_ERRORS, cleaned, portal_page, problem_of
from sla.presenters import portal_sla
from tenants.access import CustomerAccess
from tickets import collaborators, selectors, workflows
from tickets.console import (
    Action,
    attachment_served,
    copy_colleague,
    live_poll,
    post_reply,
    search_context,
    ticket_action,
    uncopy_colleague,
)
from tickets.forms import CollaboratorForm, CollaboratorRemoveForm, PortalTicketForm, ReplyForm, StatusForm
from tickets.index.services import ticket_prefix
from tickets.models import Priority, Status
from tickets.presenters import history_sentences, refresh_at
from tickets.presenters import news as ticket_news
from tickets.satisfaction.portal import rating_prompt
from tickets.types.pages import chosen_type, form_of, posted_values, ticket_form_shown, type_step

SHOWN = {"open": ("open", "pending"), "closed": ("resolved", "closed"), "all": ()}


class ShowForm(forms.Form):
    """Which of their tickets a customer lists (an unknown value shows the open ones)."""

    show = forms.ChoiceField(choices=[(key, key) for key in SHOWN], required=False)


@portal_page
def my_tickets(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    form = ShowForm(request.GET)
    shown = form.cleaned_data["show"] if form.is_valid() and form.cleaned_data["show"] else "open"
    # a merged duplicate is one ticket with its target: the target is listed
    tickets = (
        selectors.tickets_visible(access).filter(merged_into__isnull=True).order_by("-updated_at", "-id")
    )
    if SHOWN[shown]:
        tickets = tickets.filter(status__in=SHOWN[shown])
    context = {
        "tickets": tickets[:200],
        "shown": shown,
        "prefix": ticket_prefix(access.customer),
        "company_wide": selectors.sees_all_tickets(access),
    }
    return render(request, "portal/tickets.html", context)


@portal_page
def ticket_new(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """Submit a request: the customer chooses a request type (when theirs has any), then fills
    its form (the fields the customer sees) beside the usual ones."""
    context: dict[str, Any] = {
        "priorities": Priority.choices,
        "values": request.POST or request.GET,
        "ci_names": cmdb_selectors.name_hints(access),
    }
    raw: dict[str, Any] = {}
    try:
        request_type = chosen_type(request)
    except ValidationError as exc:
        status, context["errors"] = problem_of(exc)
        context |= type_step(None, customer_side=True, access=access)
        return render(request, "portal/ticket_new.html", context, status=status)
    if request.method != "POST":
        context |= type_step(request_type, customer_side=True, access=access)
        return render(request, "portal/ticket_new.html", context)
    form = PortalTicketForm(request.POST, request.FILES, access=access)
    try:
        data = cleaned(form)
        raw = posted_values(form_of(request_type), request.POST, customer_side=True)
        ticket = workflows.ticket_create(
            customer=access.customer,
            by=access.user,
            new=form.new_ticket(request_type=request_type, fields=raw),
            attachments=data["attachments"],
        )
    except WORKFLOW_ERRORS as exc:
        status, context["errors"] = problem_of(exc)
        error = exc if isinstance(exc, ValidationError) else None
        context |= type_step(request_type, customer_side=True, access=access, values=raw, error=error)
        return render(request, "portal/ticket_new.html", context, status=status)
    messages.success(request, "Thank you, we received your request.")
    return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": ticket.pk}))


def _context(
    access: CustomerAccess, ticket_id: int, version: tuple[Any, ...] | None = None
) -> dict[str, Any]:
    """The ticket page's context with what its live region polls with (read in the order that
    makes the page never claim more than it shows: version, history, ticket)."""
    version = version or selectors.ticket_version(access, ticket_id)
    seen = selectors.history_seen(access, ticket_id)
    ticket = selectors.ticket_for(access, ticket_id)
    now = timezone.now()
    sla = portal_sla(ticket=ticket, now=now)
    until = refresh_at(sla["clocks"] if sla else [], now)
    live_url = f"{reverse('portal-ticket', kwargs={'ticket_id': ticket.pk})}?{urlencode({'seen': seen})}"
    return selectors.thread(access, ticket) | {
        "collaborators": collaborators.collaborator_rows(ticket),
        "may_copy": collaborators.may_manage(access, ticket) and ticket.status != Status.CLOSED,
        "can_reopen": ticket.status == Status.RESOLVED,
        "rating_prompt": rating_prompt(access, ticket),  # the requester's survey, once resolved
        "request_form": ticket_form_shown(ticket, customer_side=True),
        "now": now,
        "history": history_sentences(access, ticket),  # the public part only (changes_shown)
        "sla": sla,
        "seen": seen,
        "live_url": live_url,
        "live_headers": poll_headers(version, until=until),
    }


@portal_page
def ticket_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """The customer's ticket page; its live region polls as the console's does
    (``tickets.console.ticket_detail``), hearing only of what the customer may read."""
    if request.htmx:
        seen, version, answered = live_poll(request, access, ticket_id)
        if answered is not None:
            return answered
        context = _context(access, ticket_id, version)
        context |= {"news": ticket_news(access, context["ticket"], seen), "live": True}
        return with_etag(render(request, "portal/_ticket_live.html", context), version)
    context = _context(access, ticket_id)
    into = context["ticket"].merged_into_id  # a merged duplicate: its target, where they can open it
    if into is not None and selectors.tickets_visible(access).filter(pk=into).exists():
        return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": into}))
    return render(request, "portal/ticket.html", context)


def _act(
    request: AuthenticatedHttpRequest,
    access: CustomerAccess,
    ticket_id: int,
    form_class: type[forms.Form],
    action: Action,
) -> HttpResponse:
    def refused(status: int, problems: list[str]) -> HttpResponse:
        context = _context(access, ticket_id) | {"copy_errors": problems}
        return render(request, "portal/ticket.html", context, status=status)

    def shown_at(shown: int) -> str:
        if not selectors.tickets_visible(access).filter(pk=shown).exists():
            return reverse("home")  # they took themselves off it
        return reverse("portal-ticket", kwargs={"ticket_id": shown}) + "#copied"

    form = form_class(request.POST)
    return ticket_action(request, access, ticket_id, form, action, refused=refused, shown_at=shown_at)


@require_POST
@portal_page
def collaborator_add(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    """The requester or a company admin copies a colleague on the ticket."""
    return _act(request, access, ticket_id, CollaboratorForm, copy_colleague(access))


@require_POST
@portal_page
def collaborator_remove(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    """Take a colleague off the ticket (or oneself)."""
    return _act(request, access, ticket_id, CollaboratorRemoveForm, uncopy_colleague(access))


@require_POST
@portal_page
def ticket_reply(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_for(access, ticket_id)
    if refused := post_reply(request, access, ticket, agent_side=False):
        status, problems = refused
        context = _context(access, ticket_id) | {
            "reply_errors": problems,
            "draft": ReplyForm(request.POST).data.get("body", ""),
        }
        return render(request, "portal/ticket.html", context, status=status)
    messages.success(request, "Your reply was sent.")
    landed = ticket.merged_into_id or ticket.pk  # a merged duplicate's messages go to its target
    return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": landed}))


@require_POST
@portal_page
def ticket_status(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """Reopen or close a resolved ticket (the only status changes a customer makes)."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        wanted = cleaned(StatusForm(request.POST))["status"]
        workflows.ticket_transition(customer=access.customer, ticket=ticket, by=access.user, status=wanted)
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return render(
            request,
            "portal/ticket.html",
            _context(access, ticket_id) | {"reply_errors": problems},
            status=status,
        )
    messages.success(request, "Ticket reopened." if wanted == Status.OPEN else "Ticket closed.")
    return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": ticket.pk}))


@portal_page
def attachment_download(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int, attachment_id: int
) -> Any:
    ticket = selectors.ticket_for(access, ticket_id)
    return attachment_served(request, selectors.attachment_for(access, ticket, attachment_id))


@portal_page
def search(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """Search what the person may already see here (their tickets, or the company's for its
    admins; never a private note); a reference (ACME-12 or 12) goes straight to its ticket."""
    context, status, jump = search_context(request, fixed_customer=access.customer.slug)
    if jump is not None:
        return HttpResponseRedirect(reverse("portal-ticket", kwargs={"ticket_id": jump.ticket_id}))
    context["statuses"] = Status.choices
    return render(request, "portal/search.html", context, status=status)
