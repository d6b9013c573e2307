"""Imports run in the test's transaction: the file is submitted as the person (as the API does)
and the worker's part is called directly (its enqueue waits for a commit that never comes)."""

from __future__ import annotations

import pytest

from accounts.models import User
from audit.context import person_context
from imports.models import Import
from imports.services import import_run, import_submit


@pytest.fixture(autouse=True)
def _acting(actor: None) -> None:
    """Direct writes of a test (a policy it needs) are attributed to the job "tests"."""


def submit(by: User, kind: str, text: str, *, dry_run: bool = False, send_invites: bool = False) -> Import:
    """Upload ``text`` as ``by`` through the API's service (the run is queued after commit)."""
    with person_context(by, channel="api"):
        return import_submit(
            by=by,
            kind=kind,
            file_name=f"{kind}.csv",
            content=text.encode(),
            dry_run=dry_run,
            send_invites=send_invites,
            channel="api",
        )


def run_import(
    by: User, kind: str, text: str, *, dry_run: bool = False, send_invites: bool = False
) -> Import:
    job = submit(by, kind, text, dry_run=dry_run, send_invites=send_invites)
    import_run(import_id=job.pk, attempt=job.attempt)
    job.refresh_from_db()
    return job


def outcomes(job: Import) -> dict[int, tuple[str, str, str]]:
    """Row → (outcome, field, message)."""
    return {entry["row"]: (entry["outcome"], entry["field"], entry["message"]) for entry in job.report}
