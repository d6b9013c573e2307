"""The ticket API of one customer: creation, transitions, the thread, who may do what."""

from __future__ import annotations

from typing import Any

import pytest

from sla.models import STANDARD_TARGETS, SlaPolicy
from tenants.access import POLICY_REFUSAL
from tenants.schema import customer_schema
from tests.conftest import Cast, api_for
from tests.support.clients import console
from tickets.index.models import TicketIndexEntry
from tickets.models import Ticket

TICKETS = "/api/v1/customers/acme/tickets/"


def open_ticket(user: Any, **extra: Any) -> dict[str, Any]:
    payload = {"subject": "Printer on fire", "description": "Smoke everywhere", "priority": "P2", **extra}
    response = api_for(user).post(TICKETS, payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def patch(user: Any, ticket: dict[str, Any], **changes: Any) -> Any:
    return api_for(user).patch(f"{TICKETS}{ticket['id']}/", changes, format="json")


def reply(user: Any, ticket: dict[str, Any], body: str = "Hello", public: bool = True) -> Any:
    return api_for(user).post(
        f"{TICKETS}{ticket['id']}/comments/", {"body": body, "public": public}, format="json"
    )


def test_a_customer_user_opens_a_ticket_for_themselves(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    assert ticket["number"].startswith("ACME-") and ticket["customer"] == "acme"
    assert ticket["status"] == "open" and ticket["priority"] == "P2"
    assert ticket["requester"] == cast.profile(cast.acme_user).pk
    assert ticket["requester_email"] == "user@acme.test" and ticket["assignee"] is None
    for field in ("id", "created_at", "updated_at", "sla", "subject", "description", "sla_policy"):
        assert field in ticket


def test_numbers_count_up_per_customer(cast: Cast) -> None:
    first, second = open_ticket(cast.acme_user), open_ticket(cast.acme_admin)
    assert int(second["number"].split("-")[1]) == int(first["number"].split("-")[1]) + 1
    globex = api_for(cast.globex_user).post(
        "/api/v1/customers/globex/tickets/", {"subject": "Hi"}, format="json"
    )
    assert globex.json()["number"].startswith("GLOBEX-")


def test_the_index_row_is_written_with_the_ticket(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    entry = TicketIndexEntry.objects.get(customer=cast.acme, ticket_id=ticket["id"])
    assert (entry.number, entry.subject, entry.status, entry.priority) == (
        ticket["number"],
        "Printer on fire",
        "open",
        "P2",
    )
    patch(cast.bob, ticket, priority="P1", assignee=cast.bob.pk)
    entry.refresh_from_db()
    assert entry.priority == "P1" and entry.assignee_id == cast.bob.pk


def test_an_agent_opens_a_ticket_for_a_requester_or_for_themselves(cast: Cast) -> None:
    by_email = open_ticket(cast.bob, requester="user2@acme.test", assignee="me")
    assert by_email["requester"] == cast.profile(cast.acme_user2).pk and by_email["assignee"] == cast.bob.pk
    by_id = open_ticket(cast.bob, requester=str(cast.profile(cast.acme_user).pk))
    assert by_id["requester_email"] == "user@acme.test"
    own = open_ticket(cast.bob)
    assert own["requester"] is None and own["requester_email"] == "bob@msp.test"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"subject": "ok", "priority": "P9"}, "priority"),
        ({"subject": "ok", "requester": "nobody@acme.test"}, "requester"),
        ({"subject": "ok", "requester": "user@globex.test"}, "requester"),
        ({"subject": "ok", "assignee": "999999"}, "assignee"),
        ({"subject": "ok", "sla_policy": 999999}, "sla_policy"),
    ],
)
def test_bad_ticket_input_is_400_naming_the_field_and_writes_nothing(
    cast: Cast, payload: dict[str, Any], field: str
) -> None:
    with customer_schema(cast.acme):
        before = Ticket.objects.count()
    response = api_for(cast.bob).post(TICKETS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    with customer_schema(cast.acme):
        assert Ticket.objects.count() == before
    assert not TicketIndexEntry.objects.filter(customer=cast.acme, subject="ok").exists()


def test_an_agent_of_another_customer_cannot_be_assigned(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    response = patch(cast.bob, ticket, assignee=cast.charlie.pk)
    assert response.status_code == 400 and "assignee" in response.json()["fields"]
    assert patch(cast.bob, ticket, assignee=cast.acme_it.pk).json()["assignee"] == cast.acme_it.pk


def test_legal_transitions_and_invalid_ones(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    assert reply(cast.bob, ticket, "Which printer?").status_code == 201
    assert patch(cast.bob, ticket, status="pending").json()["status"] == "pending"
    assert patch(cast.bob, ticket, status="open").json()["status"] == "open"
    resolved = patch(cast.bob, ticket, status="resolved").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert patch(cast.bob, ticket, status="pending").json()["code"] == "invalid_transition"
    reopened = patch(cast.bob, ticket, status="open").json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    patch(cast.bob, ticket, status="resolved")
    closed = patch(cast.bob, ticket, status="closed")
    assert closed.status_code == 200 and closed.json()["closed_at"]
    for status in ("open", "pending", "resolved"):
        refused = patch(cast.bob, ticket, status=status)
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_transition"
        assert "closed" in refused.json()["detail"]
    assert patch(cast.bob, ticket, priority="P1").status_code == 409
    assert reply(cast.acme_user, ticket).json()["code"] == "ticket_closed"


def test_open_to_closed_is_not_a_transition(cast: Cast) -> None:
    response = patch(cast.bob, open_ticket(cast.acme_user), status="closed")
    assert response.status_code == 400 and response.json()["code"] == "invalid_transition"
    assert response.json()["fields"] == {"status": [response.json()["detail"]]}


def test_pending_needs_an_agents_question_first(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    refused = patch(cast.bob, ticket, status="pending")
    assert refused.status_code == 400 and refused.json()["code"] == "pending_needs_question"
    reply(cast.bob, ticket, "internal", public=False)
    assert patch(cast.bob, ticket, status="pending").json()["code"] == "pending_needs_question"
    reply(cast.bob, ticket, "Can you send a photo?")
    assert patch(cast.bob, ticket, status="pending").json()["status"] == "pending"


def test_a_customer_reply_moves_a_pending_ticket_back_to_open(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    reply(cast.bob, ticket, "Can you send a photo?")
    patch(cast.bob, ticket, status="pending")
    assert reply(cast.acme_user, ticket, "Here it is").status_code == 201
    assert api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/").json()["status"] == "open"


def test_first_public_agent_reply_is_recorded(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    reply(cast.bob, ticket, "note", public=False)
    assert api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/").json()["first_responded_at"] is None
    reply(cast.acme_it, ticket, "On it")  # the customer's own agent counts as an agent
    assert api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/").json()["first_responded_at"]


def test_customer_users_may_only_reopen_or_close_their_resolved_ticket(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    for changes in ({"status": "resolved"}, {"assignee": cast.bob.pk}, {"sla_policy": None}):
        refused = patch(cast.acme_user, ticket, **changes)
        assert refused.status_code == 403 and refused.json()["code"] == "permission_denied", changes
    assert patch(cast.acme_user, ticket, priority="P1").json()["priority"] == "P1"
    patch(cast.bob, ticket, status="resolved")
    assert patch(cast.acme_user, ticket, status="open").json()["status"] == "open"
    patch(cast.bob, ticket, status="resolved")
    assert patch(cast.acme_user, ticket, status="closed").json()["status"] == "closed"


def test_customer_users_post_public_replies_only_and_never_see_private_notes(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    refused = reply(cast.acme_user, ticket, "psst", public=False)
    assert refused.status_code == 403
    reply(cast.bob, ticket, "Public answer")
    reply(cast.bob, ticket, "Private: customer is grumpy", public=False)
    seen = api_for(cast.acme_user).get(f"{TICKETS}{ticket['id']}/comments/")
    assert [c["body"] for c in seen.json()["results"]] == ["Public answer"]
    assert "grumpy" not in seen.content.decode()
    agent_view = api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/comments/").json()["results"]
    assert [(c["body"], c["public"]) for c in agent_view] == [
        ("Public answer", True),
        ("Private: customer is grumpy", False),
    ]
    assert agent_view[0]["author"] == {"id": cast.bob.pk, "name": "bob"}


def test_users_see_their_own_tickets_and_admins_their_companys(cast: Cast) -> None:
    mine = open_ticket(cast.acme_user)
    theirs = open_ticket(cast.acme_user2)
    listed = {t["id"] for t in api_for(cast.acme_user).get(TICKETS).json()["results"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    assert api_for(cast.acme_user).get(f"{TICKETS}{theirs['id']}/").status_code == 404
    admin_sees = {t["id"] for t in api_for(cast.acme_admin).get(TICKETS + "?page_size=200").json()["results"]}
    assert {mine["id"], theirs["id"]} <= admin_sees


def test_list_filters_and_bad_filters(cast: Cast) -> None:
    a = open_ticket(cast.acme_user, priority="P1")
    open_ticket(cast.acme_user, priority="P4")
    client = api_for(cast.bob)
    p1 = client.get(TICKETS + "?priority=P1&status=open").json()["results"]
    assert a["id"] in {t["id"] for t in p1} and {t["priority"] for t in p1} == {"P1"}
    for query, field in (
        ("status=later", "status"),
        ("ordering=colour", "ordering"),
        ("priority=P0", "priority"),
    ):
        response = client.get(f"{TICKETS}?{query}")
        assert response.status_code == 400 and field in response.json()["fields"]


def test_tickets_are_never_deleted(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    response = api_for(cast.alice).delete(f"{TICKETS}{ticket['id']}/")
    assert response.status_code == 405 and "close" in response.json()["detail"]


def test_history_lists_the_audit_entries_and_hides_internal_ones_from_customers(cast: Cast) -> None:
    ticket = open_ticket(cast.acme_user)
    patch(cast.bob, ticket, assignee=cast.bob.pk, priority="P1")
    reply(cast.bob, ticket, "secret note", public=False)
    agent = api_for(cast.bob).get(f"{TICKETS}{ticket['id']}/history/").json()["results"]
    assert [e["action"] for e in agent][:2] == ["create", "update"]
    assert agent[0]["actor"] == {"id": cast.acme_user.pk, "name": "user", "email": "user@acme.test"}
    assert agent[1]["channel"] == "api" and "assignee" in agent[1]["changes"]
    assert any(e["object_type"] == "comment" for e in agent)
    customer = api_for(cast.acme_user).get(f"{TICKETS}{ticket['id']}/history/")
    body = customer.content.decode()
    assert "secret note" not in body and "assignee" not in body and "priority" in body


def test_attachments_through_the_api(cast: Cast, settings: Any, tmp_path: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    ticket = open_ticket(cast.acme_user)
    url = f"{TICKETS}{ticket['id']}/attachments/"
    log = SimpleUploadedFile("error.log", b"boom at line 3", content_type="text/plain")
    created = api_for(cast.acme_user).post(url, {"attachments": [log]}, format="multipart")
    assert created.status_code == 201, created.content
    item = created.json()[0]
    assert item["filename"] == "error.log" and item["size"] == 14 and item["content_type"] == "text/plain"
    download = api_for(cast.bob).get(item["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"boom at line 3"  # type: ignore[attr-defined]
    assert download["Content-Disposition"].startswith("attachment")
    refused = api_for(cast.acme_user).post(
        url,
        {"attachments": [SimpleUploadedFile("x.html", b"<script>", content_type="text/html")]},
        format="multipart",
    )
    assert refused.status_code == 400 and "attachments" in refused.json()["fields"]
    assert api_for(cast.acme_user).post(url, {}, format="multipart").status_code == 400
    assert len(api_for(cast.acme_user).get(url).json()["results"]) == 1


def test_a_comment_with_a_file_on_a_private_note_stays_with_agents(
    cast: Cast, settings: Any, tmp_path: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    ticket = open_ticket(cast.acme_user)
    note = api_for(cast.bob).post(
        f"{TICKETS}{ticket['id']}/comments/",
        {"body": "dump", "public": "false", "attachments": [SimpleUploadedFile("dump.txt", b"secret")]},
        format="multipart",
    )
    assert note.status_code == 201 and note.json()["public"] is False
    file_url = note.json()["attachments"][0]["url"]
    assert api_for(cast.bob).get(file_url).status_code == 200
    assert api_for(cast.acme_user).get(file_url).status_code == 404
    assert api_for(cast.acme_user).get(f"{TICKETS}{ticket['id']}/attachments/").json()["results"] == []


def test_ticket_numbers_stay_unique_under_concurrent_creation(django_db_blocker: Any) -> None:
    """Real threads, real connections, committed: the counter row serialises the numbering."""
    import threading
    import uuid

    from django.db import connection

    from audit.context import job_context
    from people.services import CustomerUserFields, customer_user_create
    from tenants.services import customer_provision
    from tickets import workflows

    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), job_context("tests.concurrent"):
        customer = customer_provision(name="Conc", slug=f"conc-{tag}")
        with customer_schema(customer):
            requester = customer_user_create(
                customer=customer, fields=CustomerUserFields(email=f"c@{tag}.test", name="C"), password=None
            ).user
        numbers: list[int] = []
        errors: list[BaseException] = []

        def create() -> None:
            try:
                with job_context("tests.concurrent"), customer_schema(customer):
                    for _ in range(5):
                        ticket = workflows.ticket_create(
                            customer=customer, by=requester, new=workflows.NewTicket(subject="race")
                        )
                        numbers.append(ticket.number)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=create) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert sorted(numbers) == list(range(1, 21))
        assert TicketIndexEntry.objects.filter(customer=customer).count() == 20


# --- issue 12 ----------------------------------------------------------------------------------------


def test_customer_agents_set_any_sla_policy_on_tickets_and_learned_which_exist(
    cast: Cast, actor: None
) -> None:
    """Finding 3 (tickets): the customer's own agent may not set a ticket's SLA policy, on
    creation or by PATCH; an existing and an unknown policy id get the same 403."""
    gold = SlaPolicy.objects.create(name="Gold", targets=STANDARD_TARGETS)
    missing = gold.pk + 1000
    ticket = open_ticket(cast.acme_it)
    client = api_for(cast.acme_it)
    answers = []
    for policy_id in (gold.pk, missing):
        new = client.post(TICKETS, {"subject": "Mine", "sla_policy": policy_id}, format="json")
        changed = patch(cast.acme_it, ticket, sla_policy=policy_id)
        answers += [(new.status_code, new.json()), (changed.status_code, changed.json())]
    assert answers[0] == (403, {"code": "permission_denied", "detail": POLICY_REFUSAL})
    assert all(answer == answers[0] for answer in answers), answers
    with customer_schema(cast.acme):
        assert Ticket.objects.get(pk=ticket["id"]).sla_policy_id is None
        assert not Ticket.objects.filter(subject="Mine").exists()
    # Provider staff set it.
    assert patch(cast.bob, ticket, sla_policy=gold.pk).json()["sla"]["policy"]["name"] == "Gold"


def test_ticket_history_showed_provider_staff_emails_to_customers(cast: Cast) -> None:
    """Finding 11: the customer's side reads provider staff by name only in a ticket's history
    (email null); their own people keep their email; agents see everyone's."""
    ticket = open_ticket(cast.acme_user)
    patch(cast.bob, ticket, priority="P1")
    reply(cast.bob, ticket, "On it")
    url = f"{TICKETS}{ticket['id']}/history/"
    for reader in (cast.acme_user, cast.acme_admin, cast.acme_it):
        entries = api_for(reader).get(url).json()["results"]
        actors = {entry["actor"]["id"]: entry["actor"] for entry in entries if entry["actor"]}
        assert actors[cast.bob.pk] == {"id": cast.bob.pk, "name": "bob", "email": None}, reader
        assert actors[cast.acme_user.pk]["email"] == "user@acme.test"
        assert "bob@msp.test" not in str(entries)
    agent_view = api_for(cast.bob).get(url).json()["results"]
    assert {"id": cast.bob.pk, "name": "bob", "email": "bob@msp.test"} in [e["actor"] for e in agent_view]
    # The console's history of the customer's own agent is the same.
    page = console(cast.acme_it).get(f"/customers/acme/tickets/{ticket['id']}/").content.decode()
    assert "bob@msp.test" not in page and "user@acme.test" in page
    assert (
        "bob@msp.test" in console(cast.alice).get(f"/customers/acme/tickets/{ticket['id']}/").content.decode()
    )
