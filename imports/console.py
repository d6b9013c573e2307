"""Console pages of imports (provider admins): the list with the upload form and the template
links, and an import's page with its progress bar (polled by HTMX while it runs), its per-row
report and, once failed, a retry button. Uploads go through ``imports.services`` as from the
API."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from audit.models import Channel
from imports.csvfile import COLUMNS, KINDS, REQUIRED
from imports.forms import ImportForm
from imports.models import Import
from imports.presenters import progress_of, report_rows
from imports.services import import_retry, import_state, import_submit, imports_fail_dead
from serviflow.http import AuthenticatedHttpRequest
from serviflow.pages import WORKFLOW_ERRORS, cleaned, page_of, problem_of, provider_page
from tenants.access import Reach

PAGE_SIZE = 50
REPORT_PAGE_SIZE = 200

admin_page = provider_page(
    read=Reach.ADMIN, write=Reach.ADMIN, refusal="Imports are for provider admins only."
)


def _templates() -> list[dict[str, object]]:
    return [
        {
            "kind": kind,
            "url": reverse(f"api:import-template-{kind}"),
            "columns": COLUMNS[kind],
            "required": REQUIRED[kind],
        }
        for kind in KINDS
    ]


def _list_page(
    request: AuthenticatedHttpRequest,
    form: ImportForm,
    *,
    problems: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    imports_fail_dead()  # a dead run shows failed in the list too
    jobs = Import.objects.select_related("created_by").defer("content", "report")
    page = page_of(request, jobs, page_size=PAGE_SIZE)
    context = {"form": form, "page": page, "templates": _templates(), "problems": problems or []}
    return render(request, "imports/list.html", context, status=status)


@admin_page
@require_safe
def import_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list_page(request, ImportForm())


@admin_page
@require_POST
def import_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    try:
        data = cleaned(form)
        job = import_submit(
            by=request.user,
            kind=data["kind"],
            file_name=str(data["file"].name or "upload.csv"),
            content=data["file"].read(),
            dry_run=data["dry_run"],
            send_invites=data["send_invites"],
            channel=Channel.WEB,
        )
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        return _list_page(request, form, problems=problems, status=status)
    return HttpResponseRedirect(reverse("console-import", args=[job.pk]))


def _job(import_id: int) -> Import:
    job = Import.objects.select_related("created_by").filter(pk=import_id).first()
    if job is None:
        raise Http404
    return import_state(job)


@admin_page
@require_safe
def import_detail(request: AuthenticatedHttpRequest, import_id: int) -> HttpResponse:
    job = _job(import_id)
    context = {"job": job, "progress": progress_of(job)}
    if request.htmx:  # the progress bar polls this while the import runs
        return render(request, "imports/_progress.html", {**context, "polled": True})
    page = page_of(request, report_rows(job), page_size=REPORT_PAGE_SIZE)
    return render(request, "imports/import.html", {**context, "page": page})


@admin_page
@require_POST
def import_retry_page(request: AuthenticatedHttpRequest, import_id: int) -> HttpResponse:
    try:
        import_retry(job=_job(import_id), by=request.user)
    except WORKFLOW_ERRORS as exc:
        status, problems = problem_of(exc)
        job = _job(import_id)
        context = {"job": job, "progress": progress_of(job), "problems": problems}
        page = page_of(request, report_rows(job), page_size=REPORT_PAGE_SIZE)
        return render(request, "imports/import.html", {**context, "page": page}, status=status)
    return HttpResponseRedirect(reverse("console-import", args=[import_id]))
