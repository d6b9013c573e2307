"""Console and portal pages, through Django's test client on the real hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from tenants.schema import customer_schema
from tests.conftest import Cast
from tests.support.clients import console, portal
from tests.tickets.conftest import make_ticket
from tickets import workflows
from tickets.models import Ticket


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def fresh(customer: Any, ticket: Ticket) -> Ticket:
    with customer_schema(customer):
        return Ticket.objects.get(pk=ticket.pk)


def test_the_unified_queue_shows_member_customers_only(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "Acme printer")
    make_ticket(cast, cast.globex_user, "Globex mail")
    page = console(cast.bob).get("/").content.decode()
    assert "Acme printer" in page and "Globex mail" not in page
    charlie = console(cast.charlie).get("/").content.decode()
    assert "Globex mail" in charlie and "Acme printer" not in charlie


def test_queue_filters_answer_htmx_with_the_partial(cast: Cast) -> None:
    make_ticket(cast, cast.acme_user, "Urgent thing", priority="P1")
    make_ticket(cast, cast.acme_user, "Slow thing", priority="P4")
    response = console(cast.bob).get("/?priority=P1", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="queue"' in body
    assert "Urgent thing" in body and "Slow thing" not in body
    bad = console(cast.bob).get("/?ordering=colour", HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "ordering" in bad.content.decode()


def test_queue_pages_with_next_links(cast: Cast) -> None:
    for n in range(30):
        make_ticket(cast, cast.acme_user, f"Bulk {n:02d}")
    client = console(cast.bob)
    first = client.get("/?ordering=-created_at&customer=acme").content.decode()
    assert "Bulk 29" in first and "Bulk 00" not in first and 'rel="next"' in first
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(f"/{next_link}").content.decode()
    assert "Bulk 00" in second and "Bulk 29" not in second


def test_ticket_page_shows_the_thread_and_the_agent_works_it(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Laptop broken", description="Screen is black")
    client = console(cast.bob)
    url = f"/customers/acme/tickets/{ticket.pk}/"
    assert "Screen is black" in client.get(url).content.decode()
    assert (
        client.post(f"{url}reply/", {"body": "Is it plugged in?", "visibility": "public"}).status_code == 302
    )
    client.post(f"{url}reply/", {"body": "User seems annoyed", "visibility": "private"})
    page = client.get(url).content.decode()
    assert "Is it plugged in?" in page and "User seems annoyed" in page and "Private note" in page
    panel = client.post(
        f"{url}change/",
        {"status": "pending", "priority": "P1", "assignee": str(cast.bob.pk)},
        HTTP_HX_REQUEST="true",
    )
    assert panel.status_code == 200 and 'id="ticket-panel"' in panel.content.decode()
    ticket = fresh(cast.acme, ticket)
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("pending", "P1", cast.bob.pk)
    refused = client.post(f"{url}change/", {"status": "closed"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "cannot become closed" in refused.content.decode()


def test_console_pages_are_404_for_outsiders(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Acme secret subject")
    for path in (
        "/customers/acme/",
        f"/customers/acme/tickets/{ticket.pk}/",
        "/customers/acme/tickets/new/",
    ):
        response = console(cast.charlie).get(path)
        assert response.status_code == 404, path
        assert "Acme secret subject" not in response.content.decode()
    response = console(cast.charlie).post(f"/customers/acme/tickets/{ticket.pk}/reply/", {"body": "x"})
    assert response.status_code == 404


def test_console_new_ticket_for_a_requester(cast: Cast) -> None:
    client = console(cast.bob)
    requester = cast.profile(cast.acme_user2)
    response = client.post(
        "/customers/acme/tickets/new/",
        {"subject": "Phoned in", "description": "", "priority": "P2", "requester": requester.pk},
    )
    assert response.status_code == 302
    with customer_schema(cast.acme):
        assert Ticket.objects.get(subject="Phoned in").requester == requester
    bad = client.post("/customers/acme/tickets/new/", {"subject": "", "priority": "P2"})
    assert bad.status_code == 400 and "subject" in bad.content.decode()


def test_portal_submit_with_attachment_and_follow_the_ticket(cast: Cast, media: Path) -> None:
    client = portal(cast.acme_user)
    upload = SimpleUploadedFile("screenshot.png", b"\x89PNG fake image", content_type="image/png")
    response = client.post(
        "/tickets/new/",
        {"subject": "Cannot print", "description": "Error 42", "priority": "P2", "attachments": upload},
    )
    assert response.status_code == 302
    with customer_schema(cast.acme):
        ticket = Ticket.objects.get(subject="Cannot print")
        attachment = ticket.attachments.get()
    assert attachment.file.name.startswith(f"customers/{cast.acme.schema_name}/tickets/{ticket.pk}/")
    assert (media / attachment.file.name).read_bytes() == b"\x89PNG fake image"
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Cannot print" in page and "screenshot.png" in page
    download = client.get(f"/tickets/{ticket.pk}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\x89PNG fake image"  # type: ignore[attr-defined]
    assert "Cannot print" in client.get("/").content.decode()


def test_portal_refuses_bad_files_and_keeps_nothing(cast: Cast, media: Path) -> None:
    client = portal(cast.acme_user)
    exe = SimpleUploadedFile("virus.exe", b"MZ", content_type="application/octet-stream")
    response = client.post("/tickets/new/", {"subject": "Exe", "attachments": exe})
    assert response.status_code == 400 and "not accepted" in response.content.decode()
    big = SimpleUploadedFile("big.txt", b"x" * (11 * 1024 * 1024), content_type="text/plain")
    response = client.post("/tickets/new/", {"subject": "Big", "attachments": big})
    assert response.status_code == 400 and "10 MB" in response.content.decode()
    with customer_schema(cast.acme):
        assert not Ticket.objects.filter(subject__in=["Exe", "Big"]).exists()
    assert not list(media.rglob("*.*"))


def test_portal_never_shows_private_notes_or_their_files(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Mail broken")
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="We fixed the relay")
        note = workflows.comment_add(
            customer=cast.acme,
            ticket=ticket,
            by=cast.bob,
            body="Their admin broke it",
            public=False,
            attachments=[SimpleUploadedFile("internal.txt", b"secret", content_type="text/plain")],
        )
        private_file = note.attachments.get()
    client = portal(cast.acme_user)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "We fixed the relay" in page and "Their admin broke it" not in page and "internal.txt" not in page
    assert client.get(f"/tickets/{ticket.pk}/attachments/{private_file.pk}/").status_code == 404


def test_portal_reply_reopens_pending_and_customer_closes_resolved(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Question time")
    with customer_schema(cast.acme):
        workflows.comment_add(customer=cast.acme, ticket=ticket, by=cast.bob, body="Which floor?")
        workflows.ticket_update(
            customer=cast.acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(status="pending")
        )
    client = portal(cast.acme_user)
    client.post(f"/tickets/{ticket.pk}/reply/", {"body": "Third floor"})
    ticket = fresh(cast.acme, ticket)
    assert ticket.status == "open"
    refused = client.post(f"/tickets/{ticket.pk}/status/", {"status": "closed"})
    assert refused.status_code == 403
    with customer_schema(cast.acme):
        workflows.ticket_update(
            customer=cast.acme, ticket=ticket, by=cast.bob, changes=workflows.TicketChanges(status="resolved")
        )
    assert "close it" in client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert client.post(f"/tickets/{ticket.pk}/status/", {"status": "closed"}).status_code == 302
    ticket = fresh(cast.acme, ticket)
    assert ticket.status == "closed"


def test_portal_ticket_of_another_customer_is_404_even_if_the_id_exists_here(cast: Cast) -> None:
    acme_ticket = make_ticket(cast, cast.acme_user, "Acme only")
    # Ids are per schema: Globex's next ticket takes Acme's ticket's id unless Globex has it
    # already (sequences survive the rollback of earlier tests, which may have made thousands of
    # Acme tickets).
    with customer_schema(cast.globex), connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s, false) "
            "WHERE (SELECT COALESCE(MAX(id), 0) FROM tickets_ticket) < %s",
            [acme_ticket.pk, acme_ticket.pk],
        )
    make_ticket(cast, cast.globex_admin, "Globex filler")
    with customer_schema(cast.globex):
        assert Ticket.objects.filter(pk=acme_ticket.pk).exists()  # the id exists at Globex too
    response = portal(cast.globex_user).get(f"/tickets/{acme_ticket.pk}/")
    assert response.status_code == 404
    assert "Acme only" not in response.content.decode() and "filler" not in response.content.decode()
    # Acme's host does not take a Globex session at all: it asks to sign in, showing nothing.
    foreign_host = Client(HTTP_HOST="acme.localhost")
    foreign_host.force_login(cast.globex_user)
    response = foreign_host.get(f"/tickets/{acme_ticket.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_portal_users_see_own_tickets_admins_everything(cast: Cast) -> None:
    own = make_ticket(cast, cast.acme_user, "Mine only")
    other = make_ticket(cast, cast.acme_user2, "Colleague's")
    user_page = portal(cast.acme_user).get("/?show=all").content.decode()
    assert "Mine only" in user_page and "Colleague&#x27;s" not in user_page
    assert portal(cast.acme_user).get(f"/tickets/{other.pk}/").status_code == 404
    admin_page = portal(cast.acme_admin).get("/?show=all").content.decode()
    assert "Mine only" in admin_page and "Colleague&#x27;s" in admin_page
    assert own.pk != other.pk


def test_notifications_page_and_bell(cast: Cast) -> None:
    from notifications.models import Notification

    Notification.objects.create(
        user=cast.bob, kind="ticket_assigned", customer=cast.acme, title="You got ACME-1", event_key="t1"
    )
    Notification.objects.create(
        user=cast.bob, kind="ticket_assigned", customer=cast.globex, title="Globex leak", event_key="t2"
    )
    client = console(cast.bob)
    page = client.get("/notifications/").content.decode()
    assert "You got ACME-1" in page and "Globex leak" not in page
    assert 'class="count">1<' in client.get("/").content.decode()
    client.post("/notifications/read-all/")
    assert 'class="count"' not in client.get("/").content.decode()


def test_pages_show_times_in_the_persons_time_zone(cast: Cast) -> None:
    ticket = make_ticket(cast, cast.acme_user, "Zoned")
    bob = cast.bob
    bob.timezone = "America/New_York"
    bob.save(update_fields=["timezone"])
    page = console(bob).get(f"/customers/acme/tickets/{ticket.pk}/").content.decode()
    assert " EST" in page and " UTC" not in page.split("History")[0]
