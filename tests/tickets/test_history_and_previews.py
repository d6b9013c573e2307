"""The ticket page's history in sentences (who, on which channel, did what; a customer reads the
public part only), and attachment previews: images and PDFs shown inline from the same access-
checked downloads, under their own strict policy; anything else (SVG, HTML) always downloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tenants.access import customer_access
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.attachments import DOCUMENT_POLICY, DOWNLOAD_POLICY, IMAGE_POLICY
from tickets.models import Attachment, Ticket
from tickets.presenters import HistoryLine, history_sentences
from tickets.sla.sweep import sla_sweep

MONDAY_9_UTC = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, Acme's zone
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def lines(cast: Cast, user: Any, ticket: Ticket) -> list[HistoryLine]:
    with customer_schema(cast.acme):
        return history_sentences(customer_access(user, "acme"), ticket, now=MONDAY_9_UTC)


def told(history: list[HistoryLine]) -> list[str]:
    return [f"{line.actor} ({line.channel}) {line.sentence}" for line in history]


# --- history ------------------------------------------------------------------------------------


def test_the_history_reads_as_sentences_with_actor_and_channel(cast: Cast) -> None:
    with time_machine.travel(MONDAY_9_UTC, tick=False):
        # P3 (Standard, 24x7): first response Mon 14:00, resolution Tue 10:00 in Berlin
        ticket = make_ticket(cast, cast.acme_user, "Printer on fire")
        agent = console(cast.bob)
        page = f"/customers/acme/tickets/{ticket.pk}/"
        assert agent.post(f"{page}change/", {"priority": "P1"}).status_code == 302
        assert agent.post(f"{page}change/", {"assignee": str(cast.alice.pk)}).status_code == 302
        assert (
            portal(cast.acme_user).post(f"/tickets/{ticket.pk}/reply/", {"body": "Smoke!"}).status_code == 302
        )
        assert (
            agent.post(f"{page}reply/", {"body": "Extinguisher?", "visibility": "private"}).status_code == 302
        )
        note = api_for(cast.bob).post(
            f"/api/v1/customers/acme/tickets/{ticket.pk}/comments/",
            {"body": "Called facilities", "public": False},
            format="json",
        )
        assert note.status_code == 201, note.content

    agent_reads = told(lines(cast, cast.bob, ticket))
    assert agent_reads == [
        "tests (system) created the ticket",
        "bob (web) changed priority P3 → P1; SLA re-resolved: "
        "first response due Mon 14:00 → 11:00, resolution due Tue 10:00 → Mon 14:00",
        "bob (web) assigned the ticket to alice",
        "user (portal) replied",
        "bob (web) added a private note",
        "bob (api) added a private note",
    ]
    # The customer reads what changes_shown lets them: no note, no assignee, no SLA bookkeeping.
    assert told(lines(cast, cast.acme_user, ticket)) == [
        "tests (system) created the ticket",
        "bob (web) changed priority P3 → P1",
        "user (portal) replied",
    ]
    # A week on, the due times carry their date.
    with customer_schema(cast.acme):
        later = history_sentences(
            customer_access(cast.bob, "acme"), ticket, now=MONDAY_9_UTC + timedelta(days=8)
        )
    assert later[1].sentence.endswith(
        "first response due Mon 23 Nov 14:00 → 11:00, resolution due Tue 24 Nov 10:00 → Mon 23 Nov 14:00"
    )
    # The pages show the same sentences.
    console_page = console(cast.bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert "assigned the ticket to alice" in console_page and "History (6)" in console_page
    portal_page = portal(cast.acme_user).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "History (3)" in portal_page and "changed priority P3 → P1" in portal_page
    assert "private note" not in portal_page and "assigned" not in portal_page and "SLA" not in portal_page
    assert 'title="bob@msp.test">bob<' in console_page and "bob@msp.test" not in portal_page  # actor_shown


def test_a_breach_and_a_file(cast: Cast) -> None:
    with time_machine.travel(MONDAY_9_UTC, tick=False):
        ticket = make_ticket(cast, cast.acme_user, "Slow")
    with customer_schema(cast.acme):
        workflows.ticket_attach(
            customer=cast.acme,
            ticket=Ticket.objects.get(pk=ticket.pk),
            by=cast.acme_user,
            files=[SimpleUploadedFile("screen.png", PNG, content_type="image/png")],
        )
    sla_sweep(now=MONDAY_9_UTC + timedelta(days=2))
    agent_reads = told(lines(cast, cast.bob, ticket))
    assert "tests (system) attached screen.png" in agent_reads
    recorded = " ".join(line for line in agent_reads if line.startswith("tests (system) recorded"))
    assert "recorded the first response breach" in recorded and "recorded the resolution breach" in recorded
    customer_reads = told(lines(cast, cast.acme_user, ticket))
    assert "tests (system) attached screen.png" in customer_reads
    assert not any("breach" in line for line in customer_reads)


def test_the_history_costs_the_same_whatever_its_length(
    cast: Cast, django_assert_max_num_queries: Any
) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Chatty")
    with customer_schema(cast.acme):
        access = customer_access(cast.bob, "acme")
        for n in range(30):
            workflows.comment_add(
                customer=cast.acme, ticket=ticket, by=cast.bob, body=f"m{n}", public=n % 2 == 0
            )
        with django_assert_max_num_queries(5):  # entries, files, people (CIs and policies: none named)
            assert len(history_sentences(access, ticket)) >= 31


# --- previews -----------------------------------------------------------------------------------


def _attach(customer: Any, ticket: Ticket, by: Any, name: str, content_type: str, body: bytes) -> Attachment:
    """A stored file, bypassing upload rules (an SVG or HTML file that slipped in by other means)."""
    with customer_schema(customer):
        attachment = Attachment(
            ticket=ticket, filename=name, content_type=content_type, size=len(body), uploaded_by=by
        )
        attachment.file.save(name, ContentFile(body), save=False)
        attachment.save()
        return attachment


def _files(cast: Cast, ticket: Ticket) -> dict[str, Attachment]:
    return {
        "png": _attach(cast.acme, ticket, cast.acme_user, "shot.png", "image/png", PNG),
        "pdf": _attach(cast.acme, ticket, cast.acme_user, "invoice.pdf", "application/pdf", PDF),
        "svg": _attach(cast.acme, ticket, cast.acme_user, "logo.svg", "image/svg+xml", b"<svg onload=x>"),
        "html": _attach(cast.acme, ticket, cast.acme_user, "page.html", "text/html", b"<script>x</script>"),
        "log": _attach(cast.acme, ticket, cast.acme_user, "error.log", "text/plain", b"boom"),
    }


@pytest.mark.parametrize("where", ["console", "portal", "api"])
def test_images_and_pdfs_show_inline_under_a_strict_policy(cast: Cast, where: str) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Files")
    files = _files(cast, ticket)
    client: Any
    if where == "console":
        client, base = console(cast.bob), f"/customers/acme/tickets/{ticket.pk}/attachments/"
    elif where == "portal":
        client, base = portal(cast.acme_user), f"/tickets/{ticket.pk}/attachments/"
    else:
        client, base = api_for(cast.bob), f"/api/v1/customers/acme/tickets/{ticket.pk}/attachments/"

    def get(name: str, query: str = "?inline=true") -> Any:
        tail = "download/" if where == "api" else ""
        return client.get(f"{base}{files[name].pk}/{tail}{query}")

    image = get("png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline") and "shot.png" in image["Content-Disposition"]
    assert image["Content-Security-Policy"] == IMAGE_POLICY and "sandbox" in IMAGE_POLICY
    assert image["X-Content-Type-Options"] == "nosniff"
    assert b"".join(image.streaming_content) == PNG
    pdf = get("pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf["Content-Disposition"].startswith("inline")
    assert pdf["Content-Security-Policy"] == DOCUMENT_POLICY and "default-src 'none'" in DOCUMENT_POLICY
    assert "frame-ancestors 'self'" in DOCUMENT_POLICY and pdf["X-Frame-Options"] == "SAMEORIGIN"
    assert pdf["X-Content-Type-Options"] == "nosniff"
    for name in ("svg", "html", "log"):  # never inline, whatever is asked
        refused = get(name)
        assert refused.status_code == 200 and refused["Content-Disposition"].startswith("attachment"), name
        assert refused["Content-Security-Policy"] == DOWNLOAD_POLICY
        assert refused["X-Content-Type-Options"] == "nosniff"
    for query in ("", "?inline=false"):  # without the flag, a download as before
        download = get("png", query)
        assert download["Content-Disposition"].startswith("attachment")
        assert download["Content-Security-Policy"] == DOWNLOAD_POLICY
    assert get("png", "?inline=yes").status_code == 400  # read by a form, refused by name


def test_a_preview_is_no_way_around_access(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Mine")
    mine = _attach(cast.acme, ticket, cast.acme_user, "shot.png", "image/png", PNG)
    foreign_ticket = make_ticket(cast, cast.globex_user, "Theirs")
    foreign = _attach(cast.globex, foreign_ticket, cast.globex_user, "shot.png", "image/png", PNG)
    with customer_schema(cast.acme):
        note = workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="x", public=False)
        Attachment.objects.filter(pk=mine.pk).update(comment=note)  # a private note's file
    acme_file = f"/customers/acme/tickets/{ticket.pk}/attachments/{mine.pk}/?inline=true"
    portal_file = f"/tickets/{ticket.pk}/attachments/{mine.pk}/?inline=true"
    globex_file = f"/customers/globex/tickets/{foreign_ticket.pk}/attachments/{foreign.pk}/?inline=true"
    assert console(cast.bob).get(acme_file).status_code == 200
    assert console(cast.charlie).get(globex_file).status_code == 200
    assert portal(cast.acme_user).get(portal_file).status_code == 404  # a private note's file
    assert portal(cast.acme_user2).get(portal_file).status_code == 404  # not their ticket
    assert console(cast.charlie).get(acme_file).status_code == 404  # not a member of Acme
    assert console(cast.bob).get(globex_file).status_code == 404  # not a member of Globex
    assert Client(HTTP_HOST="acme.localhost").get(portal_file).status_code in (302, 404)  # signed out


def test_the_pages_preview_images_and_pdfs_from_this_host(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Files")
    files = _files(cast, ticket)
    for client, base in (
        (console(cast.bob), f"/customers/acme/tickets/{ticket.pk}/"),
        (portal(cast.acme_user), f"/tickets/{ticket.pk}/"),
    ):
        response = client.get(base)
        page = response.content.decode()
        assert f'<img src="{base}attachments/{files["png"].pk}/?inline=true"' in page
        assert f'<iframe class="preview" src="{base}attachments/{files["pdf"].pk}/?inline=true"' in page
        for name in ("svg", "html", "log"):  # listed to download, never previewed
            assert f'href="{base}attachments/{files[name].pk}/"' in page
            assert f"{base}attachments/{files[name].pk}/?inline" not in page
        # The page's own policy lets the previews load from this host, and nothing more.
        policy = dict(part.split(" ", 1) for part in response["Content-Security-Policy"].split("; "))
        assert policy["default-src"] == "'self'" and "frame-src" not in policy and "child-src" not in policy
        assert "'self'" in policy["img-src"].split() and policy["object-src"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
