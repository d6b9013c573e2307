"""Console pages of automation rules (provider admins; agents get 403, anyone else 404): the
provider-wide rules and each customer's, a list with the form to add one, a page per rule to
change or delete it, and its dry run (what it would have done to the customer's tickets of the
last 30 days). Writes go through ``automations.services``, as from the API."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from automations import services
from automations.forms import DryRunForm, RuleForm
from automations.language import action_sentence
from automations.models import Rule
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import customer_page, provider_page
from tenants.access import CustomerAccess, Reach
from tenants.models import Customer

admin_page = provider_page(read=Reach.ADMIN, write=Reach.ADMIN)
customer_admin_page = customer_page(read=Reach.ADMIN, write=Reach.ADMIN)


def _rule(customer: Customer | None, rule_id: int) -> Rule:
    found = Rule.objects.filter(customer=customer, pk=rule_id).first()
    if found is None:
        raise Http404
    return found


def _urls(customer: Customer | None) -> dict[str, str]:
    if customer is None:
        return {"list": reverse("console-automations")}
    return {"list": reverse("console-customer-automations", args=[customer.slug])}


def _rule_url(rule: Rule, what: str = "") -> str:
    if rule.customer is None:
        return reverse(f"console-automation{what}", args=[rule.pk])
    return reverse(f"console-customer-automation{what}", args=[rule.customer.slug, rule.pk])


def _initial(rule: Rule) -> dict[str, object]:
    return {
        "name": rule.name,
        "event": rule.event,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "wait": rule.wait,
        "enabled": rule.enabled,
        "position": rule.position,
    }


def _page(
    request: AuthenticatedHttpRequest, customer: Customer | None, form: RuleForm, editing: Rule | None = None
) -> HttpResponse:
    rules = list(Rule.objects.filter(customer=customer).select_related("owner").order_by("position", "id"))
    shown = [(rule, _rule_url(rule), [action_sentence(a) for a in rule.actions]) for rule in rules]
    context = {
        "customer": customer,
        "rules": shown,
        "form": form,
        "editing": editing,
        "urls": _urls(customer),
        "action_url": _rule_url(editing) if editing else _urls(customer)["list"],
        "delete_url": _rule_url(editing, "-delete") if editing else "",
        "dry_run_url": _rule_url(editing, "-dry-run") if editing else "",
    }
    return render(request, "automations/rules.html", context, status=400 if form.errors else 200)


def _list(request: AuthenticatedHttpRequest, customer: Customer | None) -> HttpResponse:
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.rule_create(
                by=request.user, customer=customer, fields=services.RuleFields(**form.cleaned_fields())
            )
        except ValidationError as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"Rule '{rule.name}' added.")
            return HttpResponseRedirect(_urls(customer)["list"])
    return _page(request, customer, form)


def _edit(request: AuthenticatedHttpRequest, customer: Customer | None, rule_id: int) -> HttpResponse:
    rule = _rule(customer, rule_id)
    form = RuleForm(request.POST or None, initial=_initial(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.rule_update(
                by=request.user, rule=rule, fields=services.RuleFields(**form.cleaned_fields())
            )
        except ValidationError as exc:
            form.add_workflow_error(exc)
            rule.refresh_from_db()
        else:
            messages.success(request, f"Rule '{rule.name}' saved.")
            return HttpResponseRedirect(_urls(customer)["list"])
    return _page(request, customer, form, editing=rule)


def _delete(request: AuthenticatedHttpRequest, customer: Customer | None, rule_id: int) -> HttpResponse:
    rule = _rule(customer, rule_id)
    services.rule_delete(by=request.user, rule=rule)
    messages.success(request, f"Rule '{rule.name}' deleted.")
    return HttpResponseRedirect(_urls(customer)["list"])


def _dry_run(
    request: AuthenticatedHttpRequest, rule: Rule, customer: Customer | None, form: DryRunForm | None
) -> HttpResponse:
    found = services.rule_dry_run(rule=rule, customer=customer) if customer is not None else None
    context = {
        "rule": rule,
        "customer": customer,
        "form": form,
        "matches": found,
        "days": services.DRY_RUN_DAYS,
        "back": _rule_url(rule),
    }
    return render(request, "automations/dry_run.html", context, status=400 if form and form.errors else 200)


@admin_page
@require_http_methods(["GET", "POST"])
def provider_rules(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The provider-wide rules: they run on every customer's tickets, before the customer's own."""
    return _list(request, None)


@admin_page
@require_http_methods(["GET", "POST"])
def provider_rule(request: AuthenticatedHttpRequest, rule_id: int) -> HttpResponse:
    return _edit(request, None, rule_id)


@admin_page
@require_POST
def provider_rule_delete(request: AuthenticatedHttpRequest, rule_id: int) -> HttpResponse:
    return _delete(request, None, rule_id)


@admin_page
@require_http_methods(["GET"])
def provider_rule_dry_run(request: AuthenticatedHttpRequest, rule_id: int) -> HttpResponse:
    """A provider-wide rule replayed on the tickets of the customer chosen (``?customer=``)."""
    rule = _rule(None, rule_id)
    form = DryRunForm(request.GET or None)
    customer = form.cleaned_data["customer"] if form.is_bound and form.is_valid() else None
    return _dry_run(request, rule, customer, form)


@customer_admin_page
@require_http_methods(["GET", "POST"])
def customer_rules(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """The customer's own rules: they run after the provider-wide ones."""
    return _list(request, access.customer)


@customer_admin_page
@require_http_methods(["GET", "POST"])
def customer_rule(
    request: AuthenticatedHttpRequest, access: CustomerAccess, customer_rule_id: int
) -> HttpResponse:
    return _edit(request, access.customer, customer_rule_id)


@require_POST
@customer_admin_page
def customer_rule_delete(
    request: AuthenticatedHttpRequest, access: CustomerAccess, customer_rule_id: int
) -> HttpResponse:
    return _delete(request, access.customer, customer_rule_id)


@customer_admin_page
@require_http_methods(["GET"])
def customer_rule_dry_run(
    request: AuthenticatedHttpRequest, access: CustomerAccess, customer_rule_id: int
) -> HttpResponse:
    return _dry_run(request, _rule(access.customer, customer_rule_id), access.customer, None)
