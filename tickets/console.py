"""Console pages for agents: the unified queue, a customer's page and the ticket page.

Server-rendered; HTMX requests get the same views' partial templates, so filters, sorting,
paging and ticket changes update in place and every page still works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User, UserKind
from cmdb import selectors as cmdb_selectors
from contracts.time import TimeInput, time_log
from core.fields import IdField
from core.parsers import zone_or_utc
from core.rehearsal import rehearse
from mail.selectors import mails_of_ticket
from people.models import CustomerUser
from people.selectors import profile_from
from serviflow.filters import filtered, refusal
from serviflow.http import AuthenticatedHttpRequest
from serviflow.live import not_modified, poll_headers, with_etag
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, next_target, problem_of, provider_page
from sla.presenters import schedule_text, ticket_sla_card
from tenants.access import CustomerAccess, Reach, customers_visible_to, ticket_workers
from tickets import collaborators, family, selectors, workflows
from tickets.attachments import attachment_response
from tickets.bulk import MAX_TICKETS, Target, tickets_bulk
from tickets.canned import services as canned
from tickets.filtersets import (
    VIEW_FILTERS,
    CannedResponseFilterSet,
    QueueFilterSet,
    SearchFilterSet,
    search_cursor,
    view_filters,
)
from tickets.forms import (
    AttachmentViewForm,
    BulkForm,
    CannedPickForm,
    CannedResponseForm,
    CollaboratorForm,
    CollaboratorRemoveForm,
    ConsoleTicketForm,
    LinkForm,
    LinkRemoveForm,
    LiveForm,
    MergeForm,
    ReplyForm,
    SavedViewForm,
    TicketChangeForm,
    TicketSlaForm,
    TimeForm,
    WatchForm,
)
from tickets.index import saved
from tickets.index.models import TicketIndexEntry, TicketSearchEntry
from tickets.index.queue import ORDERINGS, queue_entries, queue_page
from tickets.index.search import REFERENCE_RANK, Hit, search_page
from tickets.index.services import display_number
from tickets.index.states import next_change, row_state
from tickets.models import TRANSITIONS, Attachment, Priority, Status, Ticket
from tickets.presenters import PANEL_FIELDS, Change, field_changes, history_sentences, refresh_at, time_card
from tickets.presenters import news as ticket_news
from tickets.sla.policy import sla_reader
from tickets.types.pages import (
    chosen_type,
    form_inputs,
    form_of,
    posted_values,
    ticket_form_shown,
    type_step,
)
from tickets.types.values import form_fields

QUEUE_PAGE_SIZE = 25
PEOPLE_SHOWN = 20  # on the customer's page; the users page has them all
CONSOLE_ORDERING = "next_due"  # the earlier running clock first (the API keeps its own default)
TAB_COUNT_CAP = 100  # a tab counts up to 99 and then says "99+"
REPLY_THEN = {"pending": "; the ticket is pending", "resolved": "; the ticket is resolved"}
CANNED_SHOWN = 10  # canned responses the reply box offers at once; typing narrows them
ORDERING_LABELS = {
    "next_due": "Next due (either clock)",
    "resolution_due": "Resolution due soonest",
    "-created_at": "Newest",
    "created_at": "Oldest",
    "-updated_at": "Recently updated",
    "priority": "Priority (P1 first)",
}


class ViewChoice(forms.Form):
    view = IdField(required=False, what="a view's id")


def _queue_params(request: AuthenticatedHttpRequest, fixed_customer: str | None) -> tuple[QueryDict, Any]:
    """The queue's query: the saved view chosen (``?view=``: its filters and sort, paging kept)
    or the query string, with the console's defaults (open and pending, next due first)."""
    params = request.GET.copy()
    view = None
    choice = ViewChoice(request.GET)
    if not fixed_customer and choice.is_valid() and choice.cleaned_data["view"]:
        view = saved.views_visible_to(request.user).filter(pk=choice.cleaned_data["view"]).first()
        if view is not None:
            params = QueryDict(mutable=True)
            params.update({**view.filters, "ordering": view.ordering, "view": str(view.pk)})
            if "cursor" in request.GET:  # paging within the view (QueueFilterSet checks it)
                params["cursor"] = request.GET["cursor"]
    if "status" not in params:
        params["status"] = "open,pending"
    if not params.get("ordering"):
        params["ordering"] = CONSOLE_ORDERING
    if fixed_customer:
        params["customer"] = fixed_customer
    return params, view


def _capped_count(rows: QuerySet[TicketIndexEntry]) -> str:
    count = rows[:TAB_COUNT_CAP].count()
    return f"{TAB_COUNT_CAP - 1}+" if count >= TAB_COUNT_CAP else str(count)


def _tabs(user: User) -> list[dict[str, Any]]:
    """The saved views as tabs, each with its live count (capped, read through the indexes)."""
    if not user.is_provider_staff:
        return []
    tabs = []
    for view in saved.views_visible_to(user):
        data = QueryDict(mutable=True)
        data.update(view.filters)
        filterset = QueueFilterSet(data, queue_entries(user), user=user)
        count = _capped_count(filterset.qs) if filterset.is_valid() else "?"
        tabs.append({"view": view, "count": count, "editable": saved.may_change(user, view)})
    return tabs


def _queue_context(
    request: AuthenticatedHttpRequest, *, fixed_customer: str | None = None
) -> tuple[dict[str, Any], int]:
    user = request.user
    params, view = _queue_params(request, fixed_customer)
    now = timezone.now()
    context: dict[str, Any] = {
        "params": params,
        "filters_query": _filters_query(params),
        "fixed_customer": fixed_customer,
        "errors": [],
        "now": now,  # the SLA column counts down from here
        "active_view": view,
        "active_view_editable": view is not None and saved.may_change(user, view),
        "tabs": [] if fixed_customer else _tabs(user),
        "bulk": not fixed_customer and user.is_provider_staff,
        "assign_me": user.is_provider_staff,
        "bulk_cap": MAX_TICKETS,
        "sla_states": SLA_STATE_LABELS,
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
    for row in page.rows:
        row["sla_state"] = row_state(row, now)
    context |= {"rows": page.rows, "page": page, "ordering": ordering}
    unassigned = next((tab["count"] for tab in context["tabs"] if tab["view"].name == "Unassigned"), None)
    context["unassigned"] = unassigned
    version = (
        [(row["customer_slug"], row["ticket_id"], row["updated_at"]) for row in page.rows],
        [(tab["view"].pk, tab["view"].name, tab["count"]) for tab in context["tabs"]],
    )
    until = next_change(page.rows, now)
    context |= {"version": version, "until": until, "live_headers": poll_headers(version, until=until)}
    return context, 200


def _filters_query(params: QueryDict) -> str:
    """The filters shown, as a query string (what "every ticket matching" and "save view" use)."""
    kept = QueryDict(mutable=True)
    for name in (*VIEW_FILTERS, "ordering"):
        if value := params.get(name):
            kept[name] = str(value)
    return kept.urlencode()


def _page_link(request: AuthenticatedHttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = request.GET.copy()
    params["cursor"] = cursor
    return f"?{params.urlencode()}"


def _live(request: AuthenticatedHttpRequest, context: dict[str, Any], status: int, page: str) -> HttpResponse:
    """The page, or for a poll the queue region: 304 while what it shows is unchanged."""
    if status == 200 and (unchanged := not_modified(request, context["version"])):
        return unchanged
    template = "console/_queue.html" if request.htmx else page
    response = render(request, template, context, status=status)
    return with_etag(response, context["version"], until=context["until"]) if status == 200 else response


@provider_page(read=Reach.CONSOLE, write=Reach.CONSOLE)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The unified queue over every customer the agent works, with its saved views as tabs."""
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
        "agents": User.objects.filter(is_active=True, kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT])
        .only("pk", "name")
        .order_by("name"),
    }
    return _live(request, context, status, "console/queue.html")


SLA_STATE_LABELS = [
    ("at_risk", "At risk (warning)"),
    ("breached", "Breached"),
    ("at_risk,breached", "At risk or breached"),
    ("on_track", "On track"),
    ("paused", "Paused"),
]


@require_POST
@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def queue_bulk(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The bulk bar and each row's "assign to me": the same change to every ticket ticked (or
    matching the filters, at most ``MAX_TICKETS``), each through its workflow; every outcome is
    reported as a message, then back to the queue."""
    form = BulkForm(request.POST, user=request.user)
    back = next_target(request)
    try:
        data = cleaned(form)
        targets = data["ticket"] or _matching(request, data["query"])
        outcomes = tickets_bulk(by=request.user, targets=targets, action=data["action"], value=data["value"])
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        return HttpResponseRedirect(back)
    for outcome in outcomes:
        (messages.success if outcome.ok else messages.error)(request, outcome.sentence)
    if not outcomes:
        messages.info(request, "No ticket matches these filters.")
    return HttpResponseRedirect(back)


def _matching(request: AuthenticatedHttpRequest, query: str) -> list[Target]:
    """The first ``MAX_TICKETS`` tickets of the queue matching ``query``, in its order."""
    filterset = QueueFilterSet(QueryDict(query), queue_entries(request.user), user=request.user)
    if not filterset.is_valid():
        raise refusal(filterset)
    ordering = filterset.paging()[0]
    page = queue_page(filterset.qs, ordering, None, MAX_TICKETS)
    return [Target(customer=row["customer_slug"], id=row["ticket_id"]) for row in page.rows]


@require_POST
@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def view_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Save the filters shown as a view, then open it."""
    try:
        data = cleaned(SavedViewForm(request.POST))
        query = QueryDict(data["query"])
        ordering = query.get("ordering")
        filters, ordering = view_filters(
            {name: query[name] for name in query if name in VIEW_FILTERS}, ordering, user=request.user
        )
        view = saved.view_create(
            by=request.user,
            fields=saved.ViewFields(
                name=data["name"], shared=data["shared"], filters=filters, ordering=ordering
            ),
        )
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        return HttpResponseRedirect(next_target(request))
    messages.success(request, f"View '{view.name}' saved.")
    return HttpResponseRedirect(f"{reverse('home')}?view={view.pk}")


@require_POST
@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def view_change(request: AuthenticatedHttpRequest, view_id: int) -> HttpResponse:
    """Rename a view (and share it or not), or with ``delete`` delete it."""
    view = saved.view_for(request.user, view_id)
    try:
        if "delete" in request.POST:
            saved.view_delete(by=request.user, view=view)
            messages.success(request, f"View '{view.name}' deleted.")
            return HttpResponseRedirect(reverse("home"))
        data = cleaned(SavedViewForm(request.POST))
        saved.view_update(
            by=request.user, view=view, fields=saved.ViewFields(name=data["name"], shared=data["shared"])
        )
        messages.success(request, f"View renamed to '{view.name}'.")
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
    return HttpResponseRedirect(f"{reverse('home')}?view={view.pk}")


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
    return _live(request, context, status, "console/customer.html")


def _ticket_context(access: CustomerAccess, ticket: Ticket, *, seen: int = 0) -> dict[str, Any]:
    now = timezone.now()
    workers = list(ticket_workers(access.customer))
    return selectors.thread(access, ticket) | {
        "now": now,
        "seen": seen,  # the history the page shows (tickets.presenters: news, stale saves)
        "sla": ticket_sla_card(
            customer=access.customer, ticket=ticket, now=now, reader=sla_reader(access.user)
        ),
        "customer": access.customer,
        "access": access,  # what the page offers to change (an occasional agent may only read)
        "next_statuses": sorted(TRANSITIONS[ticket.status]),
        "priorities": Priority.choices,
        "workers": workers,
        "me_works": access.writes_tickets and any(worker.pk == access.user.pk for worker in workers),
        "history": history_sentences(access, ticket),
        "ci_names": _ci_names(access),
        "sla_form": TicketSlaForm(initial={"sla_policy": ticket.sla_policy_id})
        if access.is_provider_staff
        else None,
        "teamwork": family.teamwork(access, ticket),
        "mail_of": mails_of_ticket(access.customer, ticket.pk),  # what came by email: its original
        "time": time_card(access, ticket),
        "request_form": ticket_form_shown(ticket, customer_side=False),
        "field_inputs": form_inputs(
            form_fields(ticket.request_form.definitions) if ticket.request_form else [],
            customer_side=False,
            values=ticket.fields,
        ),
    }


def _ci_names(access: CustomerAccess) -> list[str]:
    """The CI names a ticket form offers: none to whom the CMDB is not shown (the pages leave
    the CI out for them altogether)."""
    return cmdb_selectors.name_hints(access) if access.sees_cmdb else []


@customer_page
def ticket_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """The ticket page; its live region's poll (an htmx GET with ``seen``) gets 304 while nothing
    changed, else the thread, the side panel and the SLA card afresh with what others did since
    ``seen`` announced (``console/_ticket_live.html``); the reply box is never touched."""
    if request.htmx:
        seen, version, answered = live_poll(request, access, ticket_id)
        if answered is not None:
            return answered
        ticket, context = live_page(request, access, ticket_id, version)
        context |= {"news": ticket_news(access, ticket, seen), "live": True}
        return with_etag(render(request, "console/_ticket_live.html", context), version)
    return render(request, "console/ticket.html", live_page(request, access, ticket_id)[1])


def fragment_refusal(exc: ValidationError) -> HttpResponse:
    """A fragment asked for with a bad query (a live region's poll, the reply box's picker): 400
    naming it, as plain text (htmx leaves the page alone)."""
    status, problems = problem_of(exc)
    return HttpResponse(" ".join(problems), status=status, content_type="text/plain; charset=utf-8")


def live_poll(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> tuple[int, tuple[Any, ...] | None, HttpResponse | None]:
    """A ticket page's poll (console and portal): the history it saw, the ticket's version (one
    query), and the answer when nothing needs rendering (a bad ``seen``, or 304 unchanged)."""
    try:
        seen = cleaned(LiveForm(request.GET))["seen"] or 0
    except ValidationError as exc:
        return 0, None, fragment_refusal(exc)
    version = selectors.ticket_version(access, ticket_id)
    return seen, version, not_modified(request, version)


def live_page(
    request: AuthenticatedHttpRequest,
    access: CustomerAccess,
    ticket_id: int,
    version: tuple[Any, ...] | None = None,
) -> tuple[Ticket, dict[str, Any]]:
    """The ticket and the page's context, with what its live region polls with: read in the
    order that makes the page never claim more than it shows (version, history, ticket)."""
    version = version or selectors.ticket_version(access, ticket_id)
    seen = selectors.history_seen(access, ticket_id)
    ticket = selectors.ticket_for(access, ticket_id)
    context = _ticket_context(access, ticket, seen=seen)
    sla = context["sla"]
    until = refresh_at(sla["clock_list"] if sla else [], context["now"])
    context |= {
        "live_url": f"{_ticket_url(access, ticket.pk)}?{urlencode({'seen': seen})}",
        "live_headers": poll_headers(version, until=until),
    }
    return ticket, context


@require_POST
@customer_page
def ticket_change(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """Status, priority, assignee and CI from the ticket page's side panel. The panel posts the
    history it saw (``seen``): when someone changed one of its fields since, the save is refused
    (409) with the current values and who changed them, never written over their change."""
    status, problems, conflicts = 200, list[str](), list[Change]()
    wanted: dict[str, str] = {}
    try:
        with transaction.atomic():
            ticket = selectors.ticket_locked(access, ticket_id)
            form = TicketChangeForm(request.POST, access=access, ticket=ticket)
            data = cleaned(form)
            changes = form.changes()
            if changes and data["seen"] is not None:
                conflicts = [c for c in field_changes(access, ticket, data["seen"]) if not c.mine]
            if conflicts:
                status = 409
                wanted = {name: str(form[name].value() or "") for name in PANEL_FIELDS if name in form.data}
            else:
                ticket = workflows.ticket_update(
                    customer=access.customer, ticket=ticket, by=access.user, changes=changes
                )
                if changes:
                    messages.success(request, "Ticket updated.")
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
    if status == 200 and not request.htmx:
        return HttpResponseRedirect(_ticket_url(access, ticket_id))
    ticket, context = live_page(request, access, ticket_id)
    context["panel"] = {"errors": problems, "conflicts": conflicts, "wanted": wanted}
    template = "console/_ticket_panel.html" if request.htmx else "console/ticket.html"
    return render(request, template, context, status=status)


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
    selectors.ticket_for(access, ticket_id)  # 404 for a ticket out of reach, before anything
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
    page = live_page(request, access, ticket_id)[1] | {"sla_preview": context}
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
        context = live_page(request, access, ticket_id)[1]
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
        with transaction.atomic():  # the reply and the time spent on it, or neither
            workflows.comment_add(
                customer=access.customer,
                ticket=ticket,
                by=access.user,
                body=data["body"],
                public=form.public or not agent_side,
                attachments=data["attachments"],
                then_status=data["then"] if agent_side else "",
            )
            if agent_side and data.get("time_minutes"):
                time_log(
                    customer=access.customer,
                    ticket_id=ticket.pk,
                    by=access.user,
                    agent=access.works_tickets,
                    data=TimeInput(
                        minutes=data["time_minutes"],
                        work_date=timezone.now().astimezone(zone_or_utc(access.user.timezone)).date(),
                        billable=bool(data.get("time_billable")),
                        note="with a reply",
                    ),
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
        context = live_page(request, access, ticket_id)[1]
        context |= {"reply_errors": problems, "draft": ReplyForm(request.POST).data.get("body", "")}
        return render(request, "console/ticket.html", context, status=status)
    sent = ReplyForm(request.POST)
    sent.is_valid()  # it was, or the reply would have been refused
    done = "Reply sent" if sent.public else "Note added"
    then = REPLY_THEN.get(sent.cleaned_data.get("then") or "", "")
    messages.success(request, f"{done}{then}.")
    landed = ticket.merged_into_id or ticket.pk  # a merged duplicate's messages go to its target
    return HttpResponseRedirect(_ticket_url(access, landed) + "#thread-end")


@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def canned_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The canned responses you see (shared, yours, your customers'), and a new one (POST)."""
    form = CannedResponseForm(user=request.user)
    status = 200
    if request.method == "POST":
        form = CannedResponseForm(request.POST, user=request.user)
        try:
            made = canned.response_create(by=request.user, fields=_canned_fields(form))
        except WORKFLOW_ERRORS as exc:
            status = _tell_refusal(request, exc)
        else:
            messages.success(request, f"Canned response '{made.name}' saved.")
            return HttpResponseRedirect(reverse("console-canned"))
    responses = canned.responses_visible_to(request.user)
    rows = [(response, canned.may_change(request.user, response)) for response in responses]
    context = {"rows": rows, "form": form, "placeholders": canned.PLACEHOLDERS}
    return render(request, "console/canned.html", context, status=status)


@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def canned_edit(request: AuthenticatedHttpRequest, canned_id: int) -> HttpResponse:
    """Change one canned response, or with ``delete`` delete it (403 unless it is yours to)."""
    response = canned.response_for(request.user, canned_id)
    initial = {
        "name": response.name,
        "body": response.body,
        "scope": response.scope,
        "customer": response.customer.slug if response.customer else None,
        "set_status": response.set_status,
    }
    form = CannedResponseForm(initial=initial, user=request.user)
    status = 200
    if request.method == "POST":
        form = CannedResponseForm(request.POST, user=request.user)
        try:
            if "delete" in request.POST:
                canned.response_delete(by=request.user, response=response)
                messages.success(request, f"Canned response '{response.name}' deleted.")
                return HttpResponseRedirect(reverse("console-canned"))
            canned.response_update(by=request.user, response=response, fields=_canned_fields(form))
        except WORKFLOW_ERRORS as exc:
            status = _tell_refusal(request, exc)
        else:
            messages.success(request, f"Canned response '{response.name}' saved.")
            return HttpResponseRedirect(reverse("console-canned"))
    context = {"response": response, "form": form, "editable": canned.may_change(request.user, response)}
    return render(request, "console/canned_edit.html", context, status=status)


def _tell_refusal(request: AuthenticatedHttpRequest, exc: Exception) -> int:
    """A refused save told on the page it re-renders: each sentence as a message; its status."""
    status, problems = problem_of(exc)
    for problem in problems:
        messages.error(request, problem)
    return status


def _canned_fields(form: CannedResponseForm) -> canned.ResponseFields:
    data = cleaned(form)
    return canned.ResponseFields(
        name=data["name"],
        body=data["body"],
        scope=data["scope"],
        customer=data["customer"],
        set_status=data["set_status"],
    )


@customer_page(read=Reach.STAFF, write=Reach.STAFF)
@require_GET  # after the access check: anyone else gets the generic 404 whatever the method
def canned_pick(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """The reply box's type-ahead: the canned responses this ticket is offered (shared, the
    agent's own, the customer's), matching the words typed."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        words = cleaned(CannedPickForm(request.GET))["q"]
    except ValidationError as exc:
        return fragment_refusal(exc)
    offered = canned.responses_offered(access.user, access.customer)
    if words:
        offered = filtered(CannedResponseFilterSet, {"search": words}, offered, user=access.user)
    context = {"customer": access.customer, "ticket": ticket, "responses": offered[:CANNED_SHOWN]}
    return render(request, "console/_canned_options.html", context)


@customer_page(read=Reach.STAFF, write=Reach.STAFF)
@require_GET  # after the access check: anyone else gets the generic 404 whatever the method
def canned_fill(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """The reply box filled with one canned response for this ticket (404 for a response not
    offered here), and which button it is meant to be sent with."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        chosen = cleaned(CannedPickForm(request.GET))["response"]
        if chosen is None:
            raise ValidationError({"response": ["Choose a canned response."]})
    except ValidationError as exc:
        return fragment_refusal(exc)
    response = canned.response_for(access.user, chosen)
    body = canned.response_render(
        response=response, customer=access.customer, ticket=ticket, agent=access.user
    )
    return render(request, "console/_canned_filled.html", {"body": body, "response": response})


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
    raw: dict[str, Any] = {}
    try:
        request_type = chosen_type(request)
    except ValidationError as exc:
        status, context["errors"] = problem_of(exc)
        context |= type_step(None, customer_side=False)
        return render(request, "console/ticket_new.html", context, status=status)
    if request.method != "POST":
        context |= type_step(request_type, customer_side=False)
        return render(request, "console/ticket_new.html", context)
    form = ConsoleTicketForm(request.POST, request.FILES, access=access)
    try:
        data = cleaned(form)
        raw = posted_values(form_of(request_type), request.POST, customer_side=False)
        ticket = workflows.ticket_create(
            customer=access.customer,
            by=access.user,
            new=form.new_ticket(request_type=request_type, fields=raw),
            attachments=data["attachments"],
        )
    except WORKFLOW_ERRORS as exc:
        status, context["errors"] = problem_of(exc)
        error = exc if isinstance(exc, ValidationError) else None
        context |= type_step(request_type, customer_side=False, values=raw, error=error)
        return render(request, "console/ticket_new.html", context, status=status)
    messages.success(request, "Ticket created.")
    return HttpResponseRedirect(_ticket_url(access, ticket.pk))


@customer_page
def attachment_download(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int, attachment_id: int
) -> Any:
    ticket = selectors.ticket_for(access, ticket_id)
    return attachment_served(request, selectors.attachment_for(access, ticket, attachment_id))


def attachment_served(request: AuthenticatedHttpRequest, attachment: Attachment) -> HttpResponseBase:
    """A file the person may see (console and portal): saved, or with ``?inline=true`` shown in
    the page when it is an image or a PDF (``tickets.attachments.attachment_response``)."""
    try:
        inline = cleaned(AttachmentViewForm(request.GET))["inline"]
    except ValidationError as exc:
        return fragment_refusal(exc)
    return attachment_response(attachment, inline=inline)


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


# --- the ticket's family and people: merge (and its undo), links, collaborators, watching ---
# Each action is a POST that goes back to the ticket page, with the refusal shown on it when the
# rules say no (``tickets.family``, ``tickets.collaborators``).

# What an action did, in a sentence, and the ticket to show afterwards.
Done = tuple[str, int]


Action = Callable[[Ticket, dict[str, Any]], Done]


def ticket_action(
    request: AuthenticatedHttpRequest,
    access: CustomerAccess,
    ticket_id: int,
    form: forms.Form,
    action: Action,
    *,
    refused: Callable[[int, list[str]], HttpResponse],
    shown_at: Callable[[int], str],
) -> HttpResponse:
    """A ticket page's POST (console and portal): the form read, the action run on the ticket,
    then the page at ``shown_at(the ticket to show)`` with what was done, or ``refused``."""
    ticket = selectors.ticket_for(access, ticket_id)
    try:
        said, shown = action(ticket, cleaned(form))
    except WORKFLOW_ERRORS as exc:
        return refused(*problem_of(exc))
    messages.success(request, said)
    return HttpResponseRedirect(shown_at(shown))


def _act(
    request: AuthenticatedHttpRequest,
    access: CustomerAccess,
    ticket_id: int,
    form_class: type[forms.Form],
    action: Action,
) -> HttpResponse:
    def refused(status: int, problems: list[str]) -> HttpResponse:
        context = live_page(request, access, ticket_id)[1] | {"teamwork_errors": problems}
        return render(request, "console/ticket.html", context, status=status)

    return ticket_action(
        request,
        access,
        ticket_id,
        form_class(request.POST),
        action,
        refused=refused,
        shown_at=lambda shown: _ticket_url(access, shown) + "#teamwork",
    )


@require_POST
@customer_page
def ticket_time(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """Log time on the ticket, or reverse an entry (``reverses``)."""
    form = TimeForm(request.POST)

    def log(ticket: Ticket, data: dict[str, Any]) -> Done:
        entry = time_log(
            customer=access.customer,
            ticket_id=ticket.pk,
            by=access.user,
            agent=access.works_tickets,
            data=form.time_input(),
        )
        if entry.reverses_id is not None:
            return f"Time entry reversed ({entry.minutes} minutes, dated {entry.work_date}).", ticket.pk
        return f"{entry.minutes} minutes logged for {entry.work_date}.", ticket.pk

    def refused(status: int, problems: list[str]) -> HttpResponse:
        context = live_page(request, access, ticket_id)[1] | {"time_errors": problems}
        return render(request, "console/ticket.html", context, status=status)

    return ticket_action(
        request,
        access,
        ticket_id,
        form,
        log,
        refused=refused,
        shown_at=lambda shown: _ticket_url(access, shown) + "#time",
    )


@require_POST
@customer_page
def ticket_merge(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """Merge this ticket into the one named (``into``); the target's page follows."""

    def merge(ticket: Ticket, data: dict[str, Any]) -> Done:
        target = family.ticket_from(access, data["into"], field="into")
        target = family.ticket_merge(
            customer=access.customer, duplicate=ticket, target=target, by=access.user
        )
        names = display_number(access.customer, ticket.number), display_number(access.customer, target.number)
        return f"{names[0]} was merged into {names[1]}.", target.pk

    return _act(request, access, ticket_id, MergeForm, merge)


@require_POST
@customer_page
def ticket_unmerge(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    def undo(ticket: Ticket, data: dict[str, Any]) -> Done:
        family.merge_undo(customer=access.customer, duplicate=ticket, by=access.user)
        return "The merge was undone.", ticket.pk

    return _act(request, access, ticket_id, forms.Form, undo)


@require_POST
@customer_page
def ticket_link(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    def link(ticket: Ticket, data: dict[str, Any]) -> Done:
        other = family.ticket_from(access, data["ticket"], field="ticket")
        family.link_add(
            customer=access.customer, ticket=ticket, by=access.user, kind=data["kind"], other=other
        )
        return f"Linked {display_number(access.customer, other.number)} as {data['kind']}.", ticket.pk

    return _act(request, access, ticket_id, LinkForm, link)


@require_POST
@customer_page
def ticket_unlink(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    def unlink(ticket: Ticket, data: dict[str, Any]) -> Done:
        link = family.link_for(ticket, data["link"])
        family.link_remove(customer=access.customer, ticket=ticket, by=access.user, link=link)
        return "Link removed.", ticket.pk

    return _act(request, access, ticket_id, LinkRemoveForm, unlink)


def copy_colleague(access: CustomerAccess) -> Action:
    """Add the colleague posted as ``user`` (console and portal)."""

    def add(ticket: Ticket, data: dict[str, Any]) -> Done:
        profile = profile_from(data["user"], field="user")
        if profile is None:
            raise forms.ValidationError({"user": ["Give the colleague's email."]})
        person = collaborators.collaborator_add(
            customer=access.customer, access=access, ticket=ticket, profile=profile
        )
        return f"{person.name or person.email} can now see this ticket and reply.", ticket.pk

    return add


def uncopy_colleague(access: CustomerAccess) -> Action:
    """Remove the collaborator posted as ``user`` (a profile id; console and portal)."""

    def remove(ticket: Ticket, data: dict[str, Any]) -> Done:
        person = collaborators.collaborator_for(ticket, data["user"])
        collaborators.collaborator_remove(customer=access.customer, access=access, ticket=ticket, user=person)
        return f"{person.name or person.email} no longer sees this ticket.", ticket.pk

    return remove


@require_POST
@customer_page
def collaborator_add(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    return _act(request, access, ticket_id, CollaboratorForm, copy_colleague(access))


@require_POST
@customer_page
def collaborator_remove(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int
) -> HttpResponse:
    return _act(request, access, ticket_id, CollaboratorRemoveForm, uncopy_colleague(access))


@require_POST
@customer_page
def ticket_watch(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    def watch(ticket: Ticket, data: dict[str, Any]) -> Done:
        collaborators.watch(customer=access.customer, access=access, ticket=ticket, on=data["watch"])
        return (
            "You are watching this ticket." if data["watch"] else "You stopped watching this ticket."
        ), ticket.pk

    return _act(request, access, ticket_id, WatchForm, watch)
