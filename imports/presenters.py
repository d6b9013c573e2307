"""What the API and the console show of imports alike: the template files, and an import's
progress and report arranged for a page."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from imports.csvfile import template
from imports.models import Import, ImportStatus, Outcome


def template_response(kind: str) -> HttpResponse:
    """``{kind}.csv``: the header line of the columns of ``kind`` (api.md, CSV import columns)."""
    response = HttpResponse(template(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}.csv"'
    return response


def progress_of(job: Import) -> dict[str, Any]:
    """The progress bar's numbers: rows processed of all, as a percentage rounded down."""
    percent = (
        100 if job.status == ImportStatus.DONE else (job.processed * 100 // job.total if job.total else 0)
    )
    return {
        "percent": percent,
        "step": percent // 5 * 5,  # the bar's width class (CSP: no inline style), 5 % steps
        "running": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "retryable": job.status == ImportStatus.FAILED,
    }


OUTCOME_WORDS = {
    Outcome.CREATE: ("would create", "created"),
    Outcome.UPDATE: ("would update", "updated"),
    Outcome.UNCHANGED: ("unchanged", "unchanged"),
    Outcome.REFUSED: ("refused", "refused"),
}


def report_rows(job: Import) -> list[dict[str, Any]]:
    """The report as a page lists it: "would create" in a dry run, "created" in a real one."""
    dry = 0 if job.dry_run else 1
    return [{**entry, "said": OUTCOME_WORDS[entry["outcome"]][dry]} for entry in job.report]
