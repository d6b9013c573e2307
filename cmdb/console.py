"""Console pages of a customer's CMDB: the CI list with filters, a CI's page (attributes,
parent chain, relations drawn as a small graph, tickets, effective SLA with its reason), the
create and edit forms, relations and deletion. Agents only, within their "cmdb" scope
(``customer_page(scope="cmdb")``): 403 for an occasional agent whose access leaves the CMDB out,
and for changes when it is read-only."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from cmdb import selectors, services
from cmdb.filtersets import CiFilterSet
from cmdb.forms import CiForm, RelationForm
from cmdb.models import MAX_NAME, CiRelation, CiStatus, CiType, ConfigurationItem, RelationKind
from cmdb.selectors import name_hints
from serviflow.filters import filtered
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, customer_page, problem_of
from tenants.access import CustomerAccess
from tickets.index.services import ticket_prefix
from tickets.selectors import tickets_of_ci


def _ci_url(access: CustomerAccess, ci_id: int) -> str:
    return reverse("console-ci", kwargs={"slug": access.customer.slug, "ci_id": ci_id})


def listing_context(access: CustomerAccess, params: QueryDict) -> tuple[dict[str, Any], int]:
    """The CI list page (console and portal): filters, one page of rows, or the filter errors."""
    context: dict[str, Any] = {
        "params": params,
        "types": CiType.choices,
        "statuses": CiStatus.choices,
        "errors": [],
    }
    try:
        cis = filtered(CiFilterSet, params, selectors.cis_visible(access), access=access)
        return context | selectors.ci_listing(access, cis, params), 200
    except ValidationError as exc:
        status, context["errors"] = problem_of(exc)
        return context, status


@require_safe
@customer_page(scope="cmdb")
def ci_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    context, status = listing_context(access, request.GET)
    context["customer"] = access.customer
    context["access"] = access
    context["counts"] = selectors.asset_counts(selectors.cis_visible(access))
    template = "cmdb/_ci_table.html" if request.htmx else "cmdb/ci_list.html"
    return render(request, template, context, status=status)


def relation_graph(
    ci: ConfigurationItem, relations: list[CiRelation], children: list[ConfigurationItem]
) -> dict[str, Any]:
    """Positions for a small SVG: the CI in the middle, its parent above, its children below,
    related CIs around it. At most 12 neighbours are drawn; the lists show them all."""
    neighbours: list[tuple[int, str, str]] = []  # (id, name, edge label)
    if ci.parent is not None:
        neighbours.append((ci.parent.pk, ci.parent.name, "parent"))
    for child in children[:4]:
        neighbours.append((child.pk, child.name, "child"))
    for relation in relations:
        outgoing = relation.source_id == ci.pk
        other = relation.target if outgoing else relation.source
        label = RelationKind(relation.kind).label
        neighbours.append((other.pk, other.name, label if outgoing else f"← {label}"))
    width, height, radius = 560, 300, 115
    nodes = []
    shown = neighbours[:12]
    for index, (ci_id, name, label) in enumerate(shown):
        angle = -math.pi / 2 + 2 * math.pi * index / max(len(shown), 1)
        x, y = width / 2 + radius * 1.8 * math.cos(angle), height / 2 + radius * math.sin(angle)
        nodes.append(
            {
                "id": ci_id,
                "name": name,
                "label": label,
                "x": round(x),
                "y": round(y),
                "lx": round((x + width / 2) / 2),
                "ly": round((y + height / 2) / 2),
            }
        )
    return {
        "width": width,
        "height": height,
        "cx": width // 2,
        "cy": height // 2,
        "nodes": nodes,
        "more": len(neighbours) - len(shown),
    }


def ci_facts(
    access: CustomerAccess,
    ci: ConfigurationItem,
    relations: list[CiRelation],
    *,
    ci_base: str,
    ticket_base: str,
) -> dict[str, Any]:
    """What a CI page shows on either host (console or portal): its facts, location chain,
    effective SLA, relations both ways and the tickets ``access`` may see, with the links. CIs
    that ``access`` may not open are not named (``selectors.UNSEEN_CI``)."""
    return {
        "ci": ci,
        "attributes": sorted(ci.attributes.items()),
        "ancestors": list(reversed(selectors.ancestors_seen(access, ci))),
        "outgoing": [r for r in relations if r.source_id == ci.pk],
        "incoming": [r for r in relations if r.target_id == ci.pk],
        "effective": selectors.effective_policies_seen(access, [ci])[ci.pk],
        "ticket_groups": tickets_of_ci(access, ci),
        "ci_base": ci_base,
        "ticket_base": ticket_base,
        "prefix": ticket_prefix(access.customer),
    }


def _ci_context(access: CustomerAccess, ci: ConfigurationItem) -> dict[str, Any]:
    relations = list(selectors.relations_visible(access, ci))
    children_qs = selectors.cis_visible(access).filter(parent=ci).order_by("name")
    children = list(children_qs[:50])
    base = reverse("console-customer", kwargs={"slug": access.customer.slug})
    return ci_facts(access, ci, relations, ci_base=f"{base}cis/", ticket_base=f"{base}tickets/") | {
        "customer": access.customer,
        "access": access,  # edit buttons only for those whose CMDB access is read-write
        "children": children,
        "children_count": children_qs.count() if len(children) == 50 else len(children),
        "graph": relation_graph(ci, relations, children),
        "history": selectors.history_for(ci),
        "relation_kinds": RelationKind.choices,
        "name_hints": name_hints(access, exclude=ci.pk),
    }


@require_safe
@customer_page(scope="cmdb")
def ci_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int) -> HttpResponse:
    return render(request, "cmdb/ci.html", _ci_context(access, selectors.ci_for(access, ci_id)))


class ParentInitial(forms.Form):
    """``?parent=`` on the new-CI page: the form starts under that CI."""

    parent = forms.CharField(required=False, max_length=MAX_NAME)

    def starting_values(self) -> dict[str, str]:
        return {"parent": self.cleaned_data["parent"]} if self.is_valid() else {}


def _form_values(form: CiForm, access: CustomerAccess) -> dict[str, Any]:
    values = dict(form.cleaned_data)
    values["parent"] = selectors.ci_from(access, values.get("parent"), field="parent")
    return values


@customer_page(scope="cmdb", writes=True)
def ci_new(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    form = CiForm(request.POST or None, initial=ParentInitial(request.GET).starting_values(), by=access.user)
    if request.method == "POST" and form.is_valid():
        try:
            ci = services.ci_create(
                customer=access.customer, by=access.user, new=services.NewCi(**_form_values(form, access))
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"{ci.name} added.")
            return HttpResponseRedirect(_ci_url(access, ci.pk))
    context = {"customer": access.customer, "form": form, "name_hints": name_hints(access), "ci": None}
    return render(request, "cmdb/ci_form.html", context, status=400 if form.errors else 200)


@customer_page(scope="cmdb", writes=True)
def ci_edit(request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int) -> HttpResponse:
    ci = selectors.ci_for(access, ci_id)
    initial = {
        "name": ci.name,
        "type": ci.type,
        "status": ci.status,
        "owner": ci.owner_id,
        "parent": ci.parent.name if ci.parent else "",
        "sla_policy": ci.sla_policy_id,
        "attributes": ci.attributes,
    }
    form = CiForm(request.POST or None, initial=initial, by=access.user)
    if request.method == "POST" and form.is_valid():
        try:
            changed = {
                name: value for name, value in _form_values(form, access).items() if name in form.changed_data
            }
            ci = services.ci_update(
                customer=access.customer, ci=ci, by=access.user, changes=services.CiChanges(**changed)
            )
        except WORKFLOW_ERRORS as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"{ci.name} saved.")
            return HttpResponseRedirect(_ci_url(access, ci.pk))
    context = {
        "customer": access.customer,
        "form": form,
        "name_hints": name_hints(access, exclude=ci.pk),
        "ci": ci,
    }
    return render(request, "cmdb/ci_form.html", context, status=400 if form.errors else 200)


@require_POST
@customer_page(scope="cmdb")
def relation_add(request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int) -> HttpResponse:
    ci = selectors.ci_for(access, ci_id)
    form = RelationForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        source, target = selectors.relation_ends(
            access, ci, form.cleaned_data["target"], form.cleaned_data["direction"]
        )
        services.ci_relate(
            customer=access.customer,
            source=source,
            target=target,
            kind=form.cleaned_data["kind"],
            by=access.user,
        )
        messages.success(
            request, f"{source.name} {RelationKind(form.cleaned_data['kind']).label} {target.name}."
        )
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
    return HttpResponseRedirect(_ci_url(access, ci.pk) + "#relations")


@require_POST
@customer_page(scope="cmdb")
def relation_delete(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int, relation_id: int
) -> HttpResponse:
    ci = selectors.ci_for(access, ci_id)
    relation = selectors.relation_for(access, ci, relation_id)
    services.ci_unrelate(customer=access.customer, relation=relation, by=access.user)
    messages.success(request, "Relation removed.")
    return HttpResponseRedirect(_ci_url(access, ci.pk) + "#relations")


@require_POST
@customer_page(scope="cmdb")
def ci_delete(request: AuthenticatedHttpRequest, access: CustomerAccess, ci_id: int) -> HttpResponse:
    ci = selectors.ci_for(access, ci_id)
    try:
        services.ci_delete(customer=access.customer, ci=ci, by=access.user)
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        return HttpResponseRedirect(_ci_url(access, ci.pk))
    messages.success(request, f"{ci.name} deleted.")
    return HttpResponseRedirect(reverse("console-cis", kwargs={"slug": access.customer.slug}))
