"""Pages of notification rules and preferences.

- ``/customers/<slug>/notifications/`` and ``/notifications/rules/`` (console, provider admins):
  the rules that apply, each event's inherited ones (provider-wide, or the built-in defaults)
  marked, a form for a new rule, deleting one, and "who would be notified" for a sample ticket
  (``?ticket=<id>``, customer pages).
- ``/notifications/preferences/`` (console and portal, everyone signed in): the person's own
  mutes and quiet hours.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from notifications import configure
from notifications.forms import PreferenceForm, PreviewForm, RuleForm
from notifications.hooks import ticket_preview
from notifications.models import RuleEvent
from notifications.rules import audience, effective_rules, unmutable_events
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, provider_page, refused
from tenants.access import CustomerAccess, Reach
from tenants.models import Customer

REFUSAL = configure.ADMINS_ONLY


def _people(customer: Customer | None) -> Any:
    if customer is None:
        return configure.provider_staff().order_by("name")
    return audience(customer).order_by("name")


def _rules_page(request: AuthenticatedHttpRequest, customer: Customer | None, here: str) -> HttpResponse:
    form = RuleForm(people=_people(customer))
    status = 200
    if request.method == "POST":
        form = RuleForm(request.POST, people=_people(customer))
        try:
            configure.rule_create(customer=customer, by=request.user, values=cleaned(form) and form.values())
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, "Rule added: it now decides its event here.")
            return HttpResponseRedirect(here)
    preview = None
    preview_form = PreviewForm()
    if customer is not None and "ticket" in request.GET:
        preview_form = PreviewForm(request.GET)
        if preview_form.is_valid():
            preview = ticket_preview(customer, preview_form.cleaned_data["ticket"])
            if preview is None:
                preview_form.add_error(
                    "ticket", f"{customer.name} has no ticket {preview_form.cleaned_data['ticket']}."
                )
        if not preview_form.is_valid() or preview is None:
            status = 400 if status == 200 else status
    names = {user.pk: user.name for user in _people(customer)}
    context = {
        "customer": customer,
        "rules": [_shown(rule, names) for rule in effective_rules(customer)],
        "form": form,
        "preview_form": preview_form,
        "preview": preview,
        "here": here,
    }
    return render(request, "notifications/rules.html", context, status=status)


def _shown(rule: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    who = [
        item["role"].replace("_", " ") if "role" in item else names.get(item["user"], f"user {item['user']}")
        for item in rule["recipients"]
    ]
    return {**rule, "who": ", ".join(who), "event_label": RuleEvent(rule["event"]).label}


@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def customer_rules(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    """A customer's notification rules, what it inherits, and the preview for one of its tickets."""
    here = reverse("console-customer-notifications", kwargs={"slug": access.customer.slug})
    return _rules_page(request, access.customer, here)


@require_POST
@customer_page(read=Reach.ADMIN, write=Reach.ADMIN)
def customer_rule_delete(
    request: AuthenticatedHttpRequest, access: CustomerAccess, customer_notification_rule_id: int
) -> HttpResponse:
    rule = configure.rule_of(access.customer, customer_notification_rule_id)
    if rule is None:
        raise Http404
    configure.rule_delete(rule=rule, by=access.user)
    messages.success(request, "Rule deleted.")
    return HttpResponseRedirect(
        reverse("console-customer-notifications", kwargs={"slug": access.customer.slug})
    )


@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=REFUSAL)
def provider_rules(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The provider-wide rules (every customer without rules of its own for an event)."""
    return _rules_page(request, None, reverse("console-notification-rules"))


@require_POST
@provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=REFUSAL)
def provider_rule_delete(request: AuthenticatedHttpRequest, notification_rule_id: int) -> HttpResponse:
    rule = configure.rule_of(None, notification_rule_id)
    if rule is None:
        raise Http404
    configure.rule_delete(rule=rule, by=request.user)
    messages.success(request, "Rule deleted.")
    return HttpResponseRedirect(reverse("console-notification-rules"))


@login_required
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's own mutes (of what the rules let them mute) and quiet hours."""
    user = request.user
    never = unmutable_events()
    mutable = [event for event in RuleEvent.values if event not in never]
    current = configure.preference_of(user)
    initial: dict[str, Any] = {"quiet_from": current.quiet_from, "quiet_to": current.quiet_to}
    for event, channels in (current.muted or {}).items():
        for channel in channels:
            initial[f"mute-{event}-{channel}"] = True
    form = PreferenceForm(initial=initial, mutable=mutable)
    status = 200
    if request.method == "POST":
        form = PreferenceForm(request.POST, mutable=mutable)
        try:
            values = cleaned(form)
            configure.preference_set(
                user=user, muted=form.muted(), quiet=(values.get("quiet_from"), values.get("quiet_to"))
            )
        except WORKFLOW_ERRORS as exc:
            status = refused(request, exc)
        else:
            messages.success(request, "Your notification preferences are saved.")
            return HttpResponseRedirect(reverse("notification-preferences"))
    context = {"form": form, "unmutable": [RuleEvent(event).label for event in sorted(never)]}
    return render(request, "notifications/preferences.html", context, status=status)
