"""Console pages of the email channel: the triage list (provider staff), a customer's mail
settings (provider admins change them, member agents read them) and the original of a mail
that became a ticket or a comment (whoever works that customer's tickets)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from mail import services
from mail.forms import MailSettingsForm, OriginalForm, TriageAssignForm
from mail.models import InboundMessage, State
from mail.parsing import parse
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, customer_page, problem_of, provider_page
from tenants.access import CustomerAccess, Reach, customer_access
from tickets.console import fragment_refusal


def _triaged(mail_id: int) -> InboundMessage:
    found = InboundMessage.objects.filter(pk=mail_id, state=State.TRIAGE).defer("raw").first()
    if found is None:
        raise Http404
    return found


@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def triage(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Mail no rule could place, newest first, each with the trace of why it is here."""
    waiting = (
        InboundMessage.objects.filter(state=State.TRIAGE).defer("raw").order_by("-received_at", "-id")[:200]
    )
    context = {"mails": waiting, "form": TriageAssignForm(user=request.user)}
    return render(request, "mail/triage.html", context)


@require_POST
@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def triage_assign(request: AuthenticatedHttpRequest, mail_id: int) -> HttpResponse:
    message = _triaged(mail_id)
    try:
        customer = cleaned(TriageAssignForm(request.POST, user=request.user))["customer"]
        access = customer_access(request.user, customer.slug)
        access.require_scope("tickets", write=True)
        outcome = services.triage_assign(message=message, customer=customer, by=request.user)
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
        return HttpResponseRedirect(reverse("mail-triage"))
    messages.success(request, f"The mail is now a ticket of {customer.name}.")
    url = reverse("console-ticket", kwargs={"slug": customer.slug, "ticket_id": outcome.ticket_id})
    return HttpResponseRedirect(url)


@require_POST
@provider_page(read=Reach.STAFF, write=Reach.STAFF)
def triage_discard(request: AuthenticatedHttpRequest, mail_id: int) -> HttpResponse:
    try:
        services.triage_discard(message=_triaged(mail_id), by=request.user)
    except WORKFLOW_ERRORS as exc:
        for problem in problem_of(exc)[1]:
            messages.error(request, problem)
    else:
        messages.success(request, "Mail discarded (it is kept in the audit trail).")
    return HttpResponseRedirect(reverse("mail-triage"))


@customer_page(read=Reach.STAFF, write=Reach.ADMIN)
def mail_settings(request: AuthenticatedHttpRequest, access: CustomerAccess) -> HttpResponse:
    current = services.mail_settings_of(access.customer)
    initial = {
        "addresses": "\n".join(current["addresses"][1:]),  # the customer's own address is fixed
        "domains": "\n".join(current["domains"]),
        "accept_new_senders": current["accept_new_senders"],
        "accept_list_mail": current["accept_list_mail"],
        "default_request_type": current["default_request_type"],
    }
    form = MailSettingsForm(initial=initial)
    status = 200
    if request.method == "POST":
        form = MailSettingsForm(request.POST)
        try:
            cleaned(form)
            services.mail_settings_update(
                customer=access.customer,
                changes=services.MailChanges(
                    addresses=form.lines("addresses"),
                    domains=form.lines("domains"),
                    accept_new_senders=form.cleaned_data["accept_new_senders"],
                    accept_list_mail=form.cleaned_data["accept_list_mail"],
                    default_request_type=form.cleaned_data["default_request_type"],
                ),
            )
        except WORKFLOW_ERRORS as exc:
            status, problems = problem_of(exc)
            for problem in problems:
                messages.error(request, problem)
        else:
            messages.success(request, "Mail settings saved.")
            return HttpResponseRedirect(reverse("mail-settings", kwargs={"slug": access.customer.slug}))
    context = {"customer": access.customer, "access": access, "current": current, "form": form}
    return render(request, "mail/settings.html", context, status=status)


@customer_page
def original(
    request: AuthenticatedHttpRequest, access: CustomerAccess, ticket_id: int, inbound_id: int
) -> HttpResponse:
    """The mail a ticket or comment came from, as received: its headers and text, and the
    unchanged message as a file (``?raw=true``). Only where it was routed: this customer and
    this ticket."""
    message = InboundMessage.objects.filter(
        pk=inbound_id, customer=access.customer, ticket_id=ticket_id
    ).first()
    if message is None:
        raise Http404
    try:
        raw = cleaned(OriginalForm(request.GET))["raw"]
    except ValidationError as exc:
        return fragment_refusal(exc)
    if raw:
        response = HttpResponse(bytes(message.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="mail-{message.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
    parsed = parse(bytes(message.raw))
    context = {"customer": access.customer, "message": message, "parsed": parsed, "ticket_id": ticket_id}
    return render(request, "mail/original.html", context)
