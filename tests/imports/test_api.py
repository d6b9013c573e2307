"""The imports API and console pages: who may use them, what a bad upload gets, what a run shows."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from imports.csvfile import MAX_FILE_BYTES
from imports.models import Import
from imports.services import import_run
from tests.conftest import Cast, api_for
from tests.imports.conftest import run_import
from tests.support.clients import console

URL = "/api/v1/imports/"


def _upload(content: bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_an_upload_is_accepted_and_its_run_reported(cast: Cast, django_capture_on_commit_callbacks) -> None:
    client = api_for(cast.alice)
    content = b"customer,email\nacme,new@acme.test\nnowhere,x@x.test\n"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            URL, {"kind": "users", "file": _upload(content), "dry_run": "true"}, format="multipart"
        )
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"id"} and len(callbacks) == 1  # the run is queued after commit
    job = Import.objects.get(pk=response.json()["id"])
    assert (job.status, job.dry_run, job.total, job.created_by, job.channel) == (
        "queued",
        True,
        2,
        cast.alice,
        "api",
    )
    import_run(import_id=job.pk, attempt=job.attempt)
    body = client.get(f"{URL}{job.pk}/").json()
    assert body["status"] == "done" and body["total"] == 2 and body["processed"] == 2
    assert (body["created"], body["updated"], body["unchanged"], body["refused"]) == (1, 0, 0, 1)
    assert body["errors"] == [{"row": 3, "field": "customer", "message": "No customer 'nowhere'."}]
    assert [row["outcome"] for row in body["rows"]] == ["create", "refused"]
    assert len(body["sha256"]) == 64 and body["file_name"] == "people.csv"
    listed = client.get(URL).json()
    assert listed["results"][0]["id"] == job.pk and "rows" not in listed["results"][0]


def test_bad_uploads_are_400_naming_the_field(cast: Cast) -> None:
    client = api_for(cast.alice)
    before = Import.objects.count()
    cases = [
        ({"kind": "tickets", "file": _upload(b"customer,email\n")}, "kind"),
        ({"kind": "users"}, "file"),
        ({"kind": "users", "file": _upload(b"customer,phone\nacme,1\n")}, "file"),
        ({"kind": "users", "file": _upload(b"PK\x03\x04binary")}, "file"),
        ({"kind": "users", "file": _upload(b"customer,email\nacme,\x00\n")}, "file"),
        ({"kind": "users", "file": _upload(b"x" * (MAX_FILE_BYTES + 1))}, "file"),
        ({"kind": "users", "file": _upload(b"customer,email\n"), "colour": "red"}, "colour"),
        ({"kind": "users", "file": _upload(b"customer,email\n"), "dry_run": "maybe"}, "dry_run"),
    ]
    for data, field in cases:
        response = client.post(URL, data, format="multipart")
        assert response.status_code == 400, (field, response.content)
        assert field in response.json()["fields"], (field, response.json())
    big = {"kind": "users", "file": _upload(b"x" * (MAX_FILE_BYTES + 1))}
    too_big = client.post(URL, big, format="multipart").json()["fields"]["file"][0]
    assert "5 MB" in too_big
    assert Import.objects.count() == before


def test_only_provider_admins_import(cast: Cast) -> None:
    job = run_import(cast.alice, "users", "customer,email\nacme,z@acme.test\n", dry_run=True)
    for user, status in ((cast.bob, 403), (cast.acme_admin, 404), (cast.acme_it, 404)):
        client = api_for(user)
        assert client.get(URL).status_code == status
        assert client.get(f"{URL}{job.pk}/").status_code == status
        assert client.get(f"{URL}templates/users.csv").status_code == status
        posted = client.post(URL, {"kind": "users", "file": _upload(b"customer,email\n")}, format="multipart")
        assert posted.status_code == status
    assert api_for(None).get(URL).status_code == 401


def test_templates_are_served(cast: Cast) -> None:
    response = api_for(cast.alice).get(f"{URL}templates/cis.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content == b"customer,name,type,parent,sla_policy,owner,attributes\r\n"


def test_only_a_failed_import_is_retried(cast: Cast, django_capture_on_commit_callbacks) -> None:
    job = run_import(cast.alice, "users", "customer,email\nacme,r@acme.test\n", dry_run=True)
    client = api_for(cast.alice)
    refused = client.post(f"{URL}{job.pk}/retry/")
    assert refused.status_code == 409 and refused.json()["code"] == "import_not_failed"
    Import.objects.filter(pk=job.pk).update(status="failed", failure="The worker stopped.")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"{URL}{job.pk}/retry/")
    assert response.status_code == 202 and len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.attempt, job.report, job.failure) == ("queued", 2, [], "")
    assert import_run(import_id=job.pk, attempt=1) == "queued"  # the old attempt's message: nothing
    assert import_run(import_id=job.pk, attempt=2) == "done"


def test_console_pages_upload_show_progress_and_retry(cast: Cast) -> None:
    client = console(cast.alice)
    page = client.get("/imports/")
    assert page.status_code == 200 and b"/api/v1/imports/templates/users.csv" in page.content
    upload = _upload(b"customer;email;name\nacme;page@acme.test;Page\n")
    response = client.post("/imports/new/", {"kind": "users", "file": upload, "dry_run": "on"})
    assert response.status_code == 302
    job = Import.objects.latest("id")
    assert (job.dry_run, job.channel, job.status) == (True, "web", "queued")
    polled = client.get(response["Location"], headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in polled.content and b"<html" not in polled.content
    import_run(import_id=job.pk, attempt=job.attempt)
    done = client.get(response["Location"])
    assert b"would create" in done.content and b'hx-trigger="every 1s"' not in done.content
    bad = client.post("/imports/new/", {"kind": "users", "file": _upload(b"who,what\n")})
    assert bad.status_code == 400 and b"Unknown columns who, what" in bad.content
    Import.objects.filter(pk=job.pk).update(status="failed")
    assert b"import-retry" in client.get(f"/imports/{job.pk}/").content
    assert client.post(f"/imports/{job.pk}/retry/").status_code == 302
    assert console(cast.bob).get("/imports/").status_code == 403


def test_a_run_whose_heartbeat_stopped_shows_failed_and_may_be_retried(cast: Cast) -> None:
    job = run_import(cast.alice, "users", "customer,email\nacme,dead@acme.test\n", dry_run=True)
    long_ago = timezone.now() - timedelta(minutes=5)
    Import.objects.filter(pk=job.pk).update(status="running", heartbeat_at=long_ago, report=[])
    client = api_for(cast.alice)
    listed = client.get(URL).json()["results"]
    assert [row["status"] for row in listed if row["id"] == job.pk] == ["failed"]
    body = client.get(f"{URL}{job.pk}/").json()
    assert body["status"] == "failed" and "nothing was imported" in body["failure"]
    assert client.post(f"{URL}{job.pk}/retry/").status_code == 202
