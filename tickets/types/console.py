"""Console pages of request types: a customer's types and their forms (provider staff read,
provider admins build them), and the provider's library, copied to any customer."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, problem_of, provider_page, refused
from tenants.access import CustomerAccess, Reach, customer_access
from tenants.models import Customer
from tenants.schema import customer_schema
from tickets import selectors, workflows
from tickets.console import live_page
from tickets.library.models import LibraryRequestType
from tickets.models import RequestType
from tickets.types import services
from tickets.types.forms import (
    FieldDefFormSet,
    LibraryCopyForm,
    RequestTypeForm,
    formset_definitions,
    formset_initial,
)
from tickets.types.pages import form_inputs, posted_values
from tickets.types.values import form_fields


def _type_values(form: RequestTypeForm, formset: Any) -> services.TypeValues:
    data = cleaned(form)
    return services.TypeValues(
        name=data["name"],
        description=data["description"],
        priority=data["priority"],
        sla_policy=data["sla_policy"],
        active=data["active"],
        position=data["position"] or 0,
        fields=formset_definitions(formset),
    )


def _list_url(customer: Customer) -> str:
    return reverse("console-request-types", kwargs={"slug": customer.slug})


@customer_page(read=Reach.STAFF, write=Reach.ADMIN)
def type_list(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """The customer's request types; a provider admin builds a new one here."""
    form, formset = RequestTypeForm(initial={"active": True}), FieldDefFormSet(prefix="fields")
    status = 200
    if request.method == "POST":
        form, formset = RequestTypeForm(request.POST), FieldDefFormSet(request.POST, prefix="fields")
        try:
            created = services.request_type_create(
                customer=access.customer, by=access.user, values=_type_values(form, formset)
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, f"Request type {created.name} added.")
            return HttpResponseRedirect(_list_url(access.customer))
    types = [
        {"type": item, "fields": form_fields(item.form.definitions if item.form else [])}
        for item in RequestType.objects.select_related("form", "sla_policy")
    ]
    context = {"customer": access.customer, "types": types, "form": form, "formset": formset}
    return render(request, "tickets/request_types.html", context, status=status)


@customer_page(read=Reach.STAFF, write=Reach.ADMIN)
def type_detail(request: AuthenticatedHttpRequest, access: CustomerAccess, type_id: int) -> HttpResponse:
    """One type: its settings and its form (saving other fields makes a new version; tickets
    keep the version they were filed with)."""
    request_type = services.type_for(access, type_id)
    if request_type is None:
        raise Http404
    definitions = form_fields(request_type.form.definitions if request_type.form else [])
    form = RequestTypeForm(
        initial={
            "name": request_type.name,
            "description": request_type.description,
            "priority": request_type.priority,
            "sla_policy": request_type.sla_policy_id,
            "active": request_type.active,
            "position": request_type.position,
        }
    )
    formset = FieldDefFormSet(prefix="fields", initial=formset_initial(definitions))
    status = 200
    if request.method == "POST":
        form = RequestTypeForm(request.POST)
        formset = FieldDefFormSet(request.POST, prefix="fields", initial=formset_initial(definitions))
        try:
            services.request_type_update(
                customer=access.customer,
                request_type=request_type,
                by=access.user,
                values=_type_values(form, formset),
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, f"Request type {request_type.name} saved.")
            return HttpResponseRedirect(_list_url(access.customer))
    context = {
        "customer": access.customer,
        "request_type": request_type,
        "version": request_type.form.version if request_type.form else 0,
        "form": form,
        "formset": formset,
    }
    return render(request, "tickets/request_type.html", context, status=status)


@require_POST
@customer_page
def ticket_fields(request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int) -> HttpResponse:
    """An agent changes a ticket's custom field values (checked against the form the ticket was
    filed with); a refused value is the ticket page again, 400, naming the field."""
    ticket = selectors.ticket_for(access, ticket_id)
    raw = posted_values(
        form_fields(ticket.request_form.definitions) if ticket.request_form else [],
        request.POST,
        customer_side=False,
        clear_empty=True,
    )
    try:
        workflows.ticket_set_fields(customer=access.customer, ticket=ticket, by=access.user, values=raw)
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        _, context = live_page(request, access, ticket_id)
        error = exc if isinstance(exc, ValidationError) else None
        context["field_inputs"] = form_inputs(
            form_fields(ticket.request_form.definitions) if ticket.request_form else [],
            customer_side=False,
            values=raw,
            error=error,
        )
        context["fields_errors"] = problems
        return render(request, "console/ticket.html", context, status=status)
    messages.success(request, "Values saved.")
    return HttpResponseRedirect(
        reverse("console-ticket", kwargs={"slug": access.customer.slug, "ticket_id": ticket_id})
    )


# --- the provider's library ---------------------------------------------------------------------


@provider_page(read=Reach.STAFF, write=Reach.ADMIN)
def library(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The library: every entry with its fields; provider admins add entries and copy them."""
    form, formset = RequestTypeForm(), FieldDefFormSet(prefix="fields")
    status = 200
    if request.method == "POST":
        form, formset = RequestTypeForm(request.POST), FieldDefFormSet(request.POST, prefix="fields")
        try:
            data = cleaned(form)
            entry = services.library_save(
                entry=None,
                values={
                    "name": data["name"],
                    "description": data["description"],
                    "priority": data["priority"],
                    "fields": formset_definitions(formset),
                },
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, f"{entry.name} added to the library.")
            return HttpResponseRedirect(reverse("console-request-library"))
    entries = [
        {"entry": entry, "fields": form_fields(entry.definitions)}
        for entry in LibraryRequestType.objects.all()
    ]
    context = {"entries": entries, "form": form, "formset": formset, "copy_form": LibraryCopyForm()}
    return render(request, "tickets/request_library.html", context, status=status)


@require_POST
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN)
def library_copy(request: AuthenticatedHttpRequest, entry_id: int) -> HttpResponse:
    """Copy a library entry to a customer (named by its slug: 404 for one you may not see)."""
    entry = LibraryRequestType.objects.filter(pk=entry_id).first()
    if entry is None:
        raise Http404
    try:
        slug = cleaned(LibraryCopyForm(request.POST))["customer"]
    except WORKFLOW_ERRORS as exc:
        refused(request, exc)
        return HttpResponseRedirect(reverse("console-request-library"))
    access = customer_access(request.user, slug)
    with customer_schema(access.customer):
        try:
            services.library_copy(entry=entry, customer=access.customer, by=request.user)
        except WORKFLOW_ERRORS as exc:
            refused(request, exc)
            return HttpResponseRedirect(reverse("console-request-library"))
    messages.success(request, f"{entry.name} copied to {access.customer.name}.")
    return HttpResponseRedirect(_list_url(access.customer))
