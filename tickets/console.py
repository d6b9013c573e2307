"""Console pages for agents: the unified queue, a customer's page and the ticket page.

Server-rendered; HTMX requests get the same views' partial templates, so filters, sorting,
paging and ticket changes update in place and every page still works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cmdb import selectors as cmdb_selectors
from core.rehearsal import rehearse
from people.models import CustomerUser
from serviflow.filters import refusal
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, problem_of, provider_page
from sla.presenters import schedule_text, ticket_sla_card
from tenants.access import CustomerAccess, Reach, customers_visible_to, ticket_workers
from tickets import selectors, workflows
from tickets.attachments import attachment_response
from tickets.filtersets import QueueFilterSet, SearchFilterSet, search_cursor
from tickets.forms import ConsoleTicketForm, ReplyForm, TicketChangeForm, TicketSlaForm
from tickets.index.models import TicketSearchEntry
from tickets.index.queue import DEFAULT_ORDERING, ORDERINGS, queue_entries, queue_page
from tickets.index.search import REFERENCE_RANK, Hit, search_page
from tickets.models import TRANSITIONS, Priority, Status, Ticket
from tickets.sla.policy import sla_reader

QUEUE_PAGE_SIZE = 25
PEOPLE_SHOWN = 20  # on the customer's page; the users page has them all
ORDERING_LABELS = {
    "resolution_due": "Due soonest",
    "-created_at": "Newest",
    "created_at": "Oldest",
    "-updated_at": "Recently updated",
    "priority": "Priority (P1 first)",
}


def _queue_context(
    request: AuthenticatedHttpRequest, *, fixed_customer: str | None = None
) -> tuple[dict[str, Any], int]:
    user = request.user
    params = request.GET.copy()
    if "status" not in params:
        params["status"] = "open,pending"
    if not params.get("ordering"):
        params["ordering"] = DEFAULT_ORDERING  # due soonest first
    if fixed_customer:
        params["customer"] = fixed_customer
    context: dict[str, Any] = {
        "params": params,
        "fixed_customer": fixed_customer,
        "errors": [],
        "now": timezone.now(),  # the SLA column counts down from here
    }
    filterset = QueueFilterSet(params, queue_entries(user), user=user)
    try:
        if not filterset.is_valid():
            raise refusal(filterset)
        ordering, cursor, _, _ = filterset.paging()
        page = queue_page(filterset.qs, ordering, cursor, QUEUE_PAGE_SIZE)
    except ValidationError as exc:
        context |= {"errors": problem_of(exc)[1], "rows": [], "page": None}
        return context, 400
    context |= {"rows": page.rows, "page": page, "ordering": ordering}
    return context, 200


def _page_link(request: AuthenticatedHttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = request.GET.copy()
    params["cursor"] = cursor
    return f"?{params.urlencode()}"


@provider_page(read=Reach.CONSOLE, write=Reach.CONSOLE)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The unified queue over every customer the agent works."""
    user = request.user
    context, status = _queue_context(request)
    page = context.get("page")
    context |= {
        "next_link": _page_link(request, page.next_cursor if page else None),
        "previous_link": _page_link(request, page.previous_cursor if page else None),
        "customers": customers_visible_to(user).filter(is_active=True).only("slug", "name").order_by("name"),
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "orderings": [(key, ORDERING_LABELS.get(key, key)) for key in ORDERINGS if key in ORDERING_LABELS],
    }
    template = "console/_queue.html" if request.htmx else "console/queue.html"
    return render(request, template, context, status=status)


@customer_page
def customer_detail(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    context, status = _queue_context(request, fixed_customer=access.customer.slug)
    page = context.get("page")
    context |= {
        "customer": access.customer,
        "access": access,
        "next_link": _page_link(request, page.next_cursor if page else None),
        "previous_link": _page_link(request, page.previous_cursor if page else None),
        "people": CustomerUser.objects.select_related("user", "sla_policy").order_by("user__name")[
            :PEOPLE_SHOWN
        ],
        "asset_counts": cmdb_selectors.asset_counts(cmdb_selectors.cis_visible(access)),
        "hours_text": schedule_text(access.customer.business_hours.as_profile())
        if access.customer.business_hours
        else "",
    }
    template = "console/_queue.html" if request.htmx else "console/customer.html"
    return render(request, template, context, status=status)


def _ticket_context(access: CustomerAccess, ticket: Ticket) -> dict[str, Any]:
    now = timezone.now()
    return selectors.thread(access, ticket) | {
        "now": now,
        "sla": ticket_sla_card(
            customer=access.customer, ticket=ticket, now=now, reader=sla_reader(access.user)
        ),
        "customer": access.customer,
        "access": access,  # what the page offers to change (an occasional agent may only read)
        "next_statuses": sorted(TRANSITIONS[ticket.status]),
        "priorities": Priority.choices,
        "workers": ticket_workers(access.customer),
        "history": selectors.history_rows(access, ticket),
        "ci_names": _ci_names(access),
        "sla_form": TicketSlaForm(initial={"sla_policy": ticket.sla_policy_id})
        if access.is_provider_staff
        else None,
    }


def _ci_names(access: CustomerAccess) -> list[str]:
    """The CI names a ticket form offers: none to whom the CMDB is not shown (the pages leave
    the CI out for them altogether)."""
    return cmdb_selectors.name_hints(access) if access.sees_cmdb else []


@customer_page
def ticket_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_for(access, ticket_id)
    return render(request, "console/ticket.html", _ticket_context(access, ticket))


@require_POST
@customer_page
def ticket_change(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """Status, priority, assignee and CI from the ticket page's side panel."""
    ticket = selectors.ticket_for(access, ticket_id)
    form = TicketChangeForm(request.POST, access=access, ticket=ticket)
    status = 200
    try:
        cleaned(form)
        changes = form.changes()
        ticket = workflows.ticket_update(
            customer=access.customer, ticket=ticket, by=access.user, changes=changes
        )
        if changes:
            messages.success(request, "Ticket updated.")
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        for problem in problems:
            messages.error(request, problem)
    if not request.htmx:
        return HttpResponseRedirect(_ticket_url(access, ticket.pk))
    ticket = selectors.ticket_for(access, ticket.pk)
    return render(request, "console/_ticket_panel.html", _ticket_context(access, ticket), status=status)


def _sla_card(access: CustomerAccess, ticket_id: int) -> dict[str, Any] | None:
    ticket = selectors.ticket_for(access, ticket_id)
    return ticket_sla_card(
        customer=access.customer, ticket=ticket, now=timezone.now(), reader=sla_reader(access.user)
    )


@require_POST
@customer_page
def ticket_sla_preview(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    """What the SLA override chosen would do: the save itself, rehearsed (run and rolled back),
    so the due times shown are the engine's, exactly as saving would make them."""
    ticket = selectors.ticket_for(access, ticket_id)
    context: dict[str, Any] = {}
    status = 200
    try:
        policy = cleaned(TicketSlaForm(request.POST))["sla_policy"]

        def override() -> dict[str, Any] | None:
            workflows.ticket_override_sla(
                customer=access.customer,
                ticket=selectors.ticket_for(access, ticket_id),
                by=access.user,
                sla_policy=policy,
            )
            return _sla_card(access, ticket_id)

        context |= {"before": _sla_card(access, ticket_id), "after": rehearse(override)}
    except WORKFLOW_ERRORS as exc:
        status, context["errors"] = problem_of(exc)
    if request.htmx:
        return render(request, "console/_ticket_sla_preview.html", {"preview": context}, status=status)
    page = _ticket_context(access, ticket) | {"sla_preview": context}
    return render(request, "console/ticket.html", page, status=status)


@require_POST
@customer_page
def ticket_sla_override(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    """Save the ticket's own SLA policy (``tickets.workflows.ticket_override_sla``)."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        policy = cleaned(TicketSlaForm(request.POST))["sla_policy"]
        workflows.ticket_override_sla(
            customer=access.customer, ticket=ticket, by=access.user, sla_policy=policy
        )
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        status = problem_of(exc)[0]
        context = _ticket_context(access, selectors.ticket_for(access, ticket_id))
        return render(request, "console/ticket.html", context, status=status)
    messages.success(request, f"SLA override {'set to ' + policy.name if policy else 'removed'}.")
    return HttpResponseRedirect(_ticket_url(access, ticket.pk) + "#ticket-sla")


def _ticket_url(access: CustomerAccess, ticket_id: int) -> str:
    return reverse("console-ticket", kwargs={"slug": access.customer.slug, "ticket_id": ticket_id})


def post_reply(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket: Ticket, *, agent_side: bool
) -> tuple[int, list[str]] | None:
    """Add the posted reply (``body``, ``attachments``; on the console also ``visibility``) to
    the ticket, for the console and the portal alike; the refusal as (status, sentences), or
    None when it was added."""
    form = ReplyForm(request.POST, request.FILES)
    try:
        data = cleaned(form)
        workflows.comment_add(
            customer=access.customer,
            ticket=ticket,
            by=access.user,
            body=data["body"],
            public=form.public or not agent_side,
            attachments=data["attachments"],
        )
    except WORKFLOW_ERRORS as exc:
        return problem_of(exc)
    return None


@require_POST
@customer_page
def ticket_reply(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """A public reply or, with ``private`` ticked, a private note."""
    ticket = selectors.ticket_for(access, ticket_id)
    if refused := post_reply(request, access, ticket, agent_side=True):
        status, problems = refused
        context = _ticket_context(access, selectors.ticket_for(access, ticket_id))
        context |= {"reply_errors": problems, "draft": ReplyForm(request.POST).data.get("body", "")}
        return render(request, "console/ticket.html", context, status=status)
    private = ReplyForm(request.POST).data.get("visibility") == "private"
    messages.success(request, "Note added." if private else "Reply sent.")
    return HttpResponseRedirect(_ticket_url(access, ticket.pk) + "#thread-end")


@customer_page(writes=True)
def ticket_new(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    people = CustomerUser.objects.select_related("user").filter(user__is_active=True).order_by("user__name")
    context: dict[str, Any] = {
        "customer": access.customer,
        "people": people,
        "priorities": Priority.choices,
        "workers": ticket_workers(access.customer),
        "values": request.POST or request.GET,
        "ci_names": _ci_names(access),
        "access": access,
    }
    if request.method != "POST":
        return render(request, "console/ticket_new.html", context)
    form = ConsoleTicketForm(request.POST, request.FILES, access=access)
    try:
        data = cleaned(form)
        ticket = workflows.ticket_create(
            customer=access.customer, by=access.user, new=form.new_ticket(), attachments=data["attachments"]
        )
    except WORKFLOW_ERRORS as exc:
        status, context["errors"] = problem_of(exc)
        return render(request, "console/ticket_new.html", context, status=status)
    messages.success(request, "Ticket created.")
    return HttpResponseRedirect(_ticket_url(access, ticket.pk))


@customer_page
def attachment_download(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int, attachment_id: int
) -> Any:
    ticket = selectors.ticket_for(access, ticket_id)
    return attachment_response(selectors.attachment_for(access, ticket, attachment_id))


# --- search (the console's and the portal's search pages) ----------------------------------------


def search_context(
    request: AuthenticatedHttpRequest, *, fixed_customer: str | None = None
) -> tuple[dict[str, Any], int, Hit | None]:
    """A search page's hits (``tickets.index.search``, read through ``SearchFilterSet`` like the
    API), its status, and the ticket to go straight to: the one a query that is only a reference
    names."""
    params = request.GET.copy()
    if fixed_customer:
        params["customer"] = fixed_customer
    context: dict[str, Any] = {"params": params, "hits": [], "errors": [], "next_link": None}
    if not params.get("q"):
        return context, 200, None
    filterset = SearchFilterSet(params, TicketSearchEntry.objects.none(), user=request.user)
    try:
        if not filterset.is_valid():
            raise refusal(filterset)
        reader, query, filters, offset, size = filterset.search_args()
    except ValidationError as exc:
        context["errors"] = problem_of(exc)[1]
        return context, 400, None
    page = search_page(reader, query, filters, offset=offset, size=size)
    named = [hit for hit in page.hits if hit.rank == REFERENCE_RANK]
    if query.reference is not None and offset == 0 and len(named) == 1:  # the query is a reference
        return context, 200, named[0]
    if page.next_offset is not None:
        context["next_link"] = _page_link(request, search_cursor(page.next_offset))
    context |= {"hits": page.hits, "searched": True, "first_page": offset == 0}
    return context, 200, None


@provider_page(read=Reach.CONSOLE, write=Reach.CONSOLE)
def search(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Search every customer the person works: ranked hits with their snippets; a reference
    goes straight to its ticket."""
    context, status, jump = search_context(request)
    if jump is not None:
        return HttpResponseRedirect(
            reverse("console-ticket", kwargs={"slug": jump.customer_slug, "ticket_id": jump.ticket_id})
        )
    context |= {
        "customers": customers_visible_to(request.user)
        .filter(is_active=True)
        .only("slug", "name")
        .order_by("name"),
        "statuses": Status.choices,
        "priorities": Priority.choices,
    }
    return render(request, "console/search.html", context, status=status)
