"""Console pages of the provider's agents (Admin → Agents): the list with filters, the create
and edit forms (licence, admin, customers, an occasional agent's scopes, an optional password)
and deactivation. Provider admins change them; agents see them read-only; anyone else gets 404
(``provider_page``). Every change goes through ``accounts.services``, as from the API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.filtersets import AgentFilterSet
from accounts.forms import LEVEL_LABELS, SCOPE_LABELS, AgentForm
from accounts.models import SCOPE_LEVELS, Licence, User, UserKind
from accounts.services import (
    agent_create,
    agent_update,
    person_deactivate,
    person_reactivate,
)
from core.parsers import zone_names
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, filtered_page, provider_page
from tenants.access import Reach, memberships_visible_to, reaches, scope_level

AGENTS_PAGE_SIZE = 50


def _can_edit(request: AuthenticatedHttpRequest) -> bool:
    return reaches(request.user, Reach.ADMIN)


def _agents(viewer: User) -> QuerySet[User]:
    """Provider admins and agents, with their customers in one more query: those ``viewer``
    sees themselves (an agent is not told which other customers a colleague works for)."""
    memberships = memberships_visible_to(viewer).select_related("customer").order_by("customer__name")
    return User.objects.filter(kind__in=[UserKind.PROVIDER_ADMIN, UserKind.AGENT]).prefetch_related(
        Prefetch("memberships", queryset=memberships)
    )


def _agent_url(agent: User) -> str:
    return reverse("console-agent", args=[agent.pk])


@require_safe
@provider_page
def agent_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    params = request.GET
    listed, status = filtered_page(request, AgentFilterSet, _agents(request.user), page_size=AGENTS_PAGE_SIZE)
    context: dict[str, Any] = {
        "params": params,
        "state": params.get("state") or "active",
        "licences": Licence.choices,
        "can_edit": _can_edit(request),
        **listed,
    }
    template = "accounts/agents/_table.html" if request.htmx else "accounts/agents/list.html"
    return render(request, template, context, status=status)


def _agent_page(
    request: AuthenticatedHttpRequest, agent: User | None, form: AgentForm | None, *, status: int = 200
) -> HttpResponse:
    context = {
        "agent": agent,
        "form": form,
        "can_edit": _can_edit(request),
        "is_self": agent is not None and agent.pk == request.user.pk,
        "scopes": [(SCOPE_LABELS[scope], LEVEL_LABELS[scope_level(agent, scope)]) for scope in SCOPE_LEVELS]
        if agent is not None and agent.licence == Licence.OCCASIONAL
        else [],
        "timezones": sorted(zone_names()) if form is not None else [],
    }
    return render(request, "accounts/agents/agent.html", context, status=status)


@provider_page
def agent_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not _can_edit(request):
        raise PermissionDenied("Only provider admins can add agents.")
    form = AgentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agent = agent_create(fields=form.agent_fields(), password=form.cleaned_data["password"] or None)
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
        else:
            invited = "" if form.cleaned_data["password"] else f" An activation email goes to {agent.email}."
            messages.success(request, f"Agent {agent.name} created.{invited}")
            return HttpResponseRedirect(_agent_url(agent))
    return _agent_page(request, None, form, status=400 if form.errors else 200)


@provider_page
def agent_detail(request: AuthenticatedHttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(_agents(request.user), pk=agent_id)
    if not _can_edit(request):
        return _agent_page(request, agent, None)
    form = AgentForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        try:
            agent_update(agent=agent, changes=form.changes())
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
            # the refused values were never saved
            agent = get_object_or_404(_agents(request.user), pk=agent_id)
        else:
            messages.success(request, f"Agent {agent.name} saved.")
            return HttpResponseRedirect(_agent_url(agent))
    return _agent_page(request, agent, form, status=400 if form.errors else 200)


@require_POST
@provider_page
def agent_deactivate(request: AuthenticatedHttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(_agents(request.user), pk=agent_id)
    if agent.pk == request.user.pk:
        messages.error(request, "You cannot deactivate yourself.")
        return HttpResponseRedirect(_agent_url(agent))
    person_deactivate(user=agent)
    messages.success(request, f"{agent.name} deactivated: their sessions and API tokens have ended.")
    return HttpResponseRedirect(_agent_url(agent))


@require_POST
@provider_page
def agent_reactivate(request: AuthenticatedHttpRequest, agent_id: int) -> HttpResponse:
    agent = get_object_or_404(_agents(request.user), pk=agent_id)
    person_reactivate(user=agent)
    messages.success(request, f"{agent.name} reactivated. Their old API tokens stay revoked.")
    return HttpResponseRedirect(_agent_url(agent))
