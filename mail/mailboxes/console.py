"""Console page of the provider's IMAP mailboxes (provider admins; agents get 403, anyone else
404): the list with each mailbox's last poll and error, a form to add one, and per mailbox a form
to change it and a button to delete it. Writes go through ``mail.mailboxes.services``, as from
the API; the password is never shown, and left empty when editing it stays as it is."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.changes import UNSET
from mail.mailboxes import services
from mail.mailboxes.forms import MailboxForm
from mail.models import Mailbox
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import provider_page
from tenants.access import Reach

admin_page = provider_page(read=Reach.ADMIN, write=Reach.ADMIN, refusal=services.MAILBOXES_REFUSAL)


def _mailbox(mailbox_id: int) -> Mailbox:
    found = Mailbox.objects.select_related("customer").filter(pk=mailbox_id).first()
    if found is None:
        raise Http404
    return found


def _page(
    request: AuthenticatedHttpRequest, form: MailboxForm, *, editing: Mailbox | None = None
) -> HttpResponse:
    mailboxes = Mailbox.objects.select_related("customer").order_by("host", "username", "pk")
    context = {"mailboxes": mailboxes, "form": form, "editing": editing}
    return render(request, "mail/mailboxes.html", context, status=400 if form.errors else 200)


@admin_page
@require_http_methods(["GET", "POST"])
def mailbox_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = MailboxForm(request.POST or None, new=True)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.mailbox_create(fields=services.MailboxFields(**form.cleaned_data))
        except ValidationError as exc:
            form.add_workflow_error(exc)
        else:
            messages.success(request, f"Mailbox {mailbox} added: it is polled within a minute.")
            return HttpResponseRedirect(reverse("mail-mailboxes"))
    return _page(request, form)


@admin_page
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: AuthenticatedHttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _mailbox(mailbox_id)
    initial = {
        "host": mailbox.host,
        "port": mailbox.port,
        "use_ssl": mailbox.use_ssl,
        "username": mailbox.username,
        "folder": mailbox.folder,
        "customer": mailbox.customer.slug if mailbox.customer else None,
    }
    form = MailboxForm(request.POST or None, initial=initial, new=False)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        password = data.pop("password") or UNSET  # empty: keep the stored one
        try:
            services.mailbox_update(
                mailbox=mailbox, changes=services.MailboxChanges(**data, password=password)
            )
        except ValidationError as exc:
            form.add_workflow_error(exc)
            mailbox.refresh_from_db()
        else:
            messages.success(request, f"Mailbox {mailbox} saved.")
            return HttpResponseRedirect(reverse("mail-mailboxes"))
    return _page(request, form, editing=mailbox)


@admin_page
@require_POST
def mailbox_delete(request: AuthenticatedHttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _mailbox(mailbox_id)
    services.mailbox_delete(mailbox=mailbox)
    messages.success(request, f"Mailbox {mailbox} deleted; the mail it brought stays.")
    return HttpResponseRedirect(reverse("mail-mailboxes"))
