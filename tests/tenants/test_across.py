"""Statements across customers' schemas: each row goes to and comes from its own schema, even
where the same id exists in another one."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction

from audit.bulk import update_entries
from audit.context import job_context, restore, set_request_actor
from audit.models import AuditEntry
from people.models import CustomerUser
from tenants.across import rows_insert, rows_lock, rows_update
from tenants.schema import customer_schema
from tests.conftest import Cast
from tickets import workflows
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(cast: Cast, actor: None) -> dict[str, Ticket]:
    """A ticket in Acme and one in Globex with the same id (both sequences moved to the same
    point first; sequences are not rolled back with the test, which is harmless)."""
    schemas = [cast.acme.schema_name, cast.globex.schema_name]
    with connection.cursor() as cursor:
        tops = []
        for schema in schemas:
            cursor.execute("SELECT last_value FROM " + f'"{schema}".tickets_ticket_id_seq')  # noqa: S608
            tops.append(cursor.fetchone()[0])
        for schema in schemas:
            cursor.execute("SELECT setval(%s, %s)", [f'"{schema}".tickets_ticket_id_seq', max(tops) + 1])
    made = {}
    for customer, by in ((cast.acme, cast.acme_user), (cast.globex, cast.globex_user)):
        with customer_schema(customer):
            new = workflows.NewTicket(subject=f"{customer.slug} twin")
            made[customer.slug] = workflows.ticket_create(customer=customer, by=by, new=new)
    assert made["acme"].pk == made["globex"].pk
    return made


def test_rows_are_locked_and_read_from_their_own_schema(cast: Cast, twins: dict[str, Ticket]) -> None:
    pk, acme, globex = twins["acme"].pk, cast.acme.schema_name, cast.globex.schema_name
    with transaction.atomic():
        found = rows_lock(Ticket, {acme: {pk}, globex: {pk}})
    assert [(schema, ticket.pk, ticket.subject) for schema, ticket in found] == [
        (acme, pk, twins["acme"].subject),
        (globex, pk, twins["globex"].subject),
    ]
    # converted as the ORM converts them (JSON, aware datetimes)
    assert found[0][1].sla_segments == twins["acme"].sla_segments
    assert found[0][1].created_at == twins["acme"].created_at
    assert rows_lock(Ticket, {acme: set(), globex: []}) == []


def test_locked_rows_stay_locked_until_the_transaction_ends(cast: Cast) -> None:
    # a committed row (the cast's), so that another connection sees it
    profile, schema = cast.profile(cast.globex_user), cast.globex.schema_name
    outcome: dict[str, Any] = {}

    def other_worker() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                table = f'"{schema}".people_customeruser'
                cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [profile.pk])  # noqa: S608
                outcome["locked"] = cursor.fetchall()
        except OperationalError as error:
            outcome["refused"] = str(error)
        finally:
            other.close()

    with transaction.atomic():
        assert [row.pk for _, row in rows_lock(CustomerUser, {schema: {profile.pk}})] == [profile.pk]
        thread = threading.Thread(target=other_worker)
        thread.start()
        thread.join()
    assert "could not obtain lock" in outcome.get("refused", ""), outcome


def test_rows_are_written_back_to_their_own_schema_only(cast: Cast, twins: dict[str, Ticket]) -> None:
    acme, globex = twins["acme"], twins["globex"]
    acme.subject, acme.sla_recorded = "Acme changed", {"resolution:warning": 1}
    globex.subject = "Globex changed"
    schemas = {"acme": cast.acme.schema_name, "globex": cast.globex.schema_name}
    written = rows_update(
        Ticket, {schemas["acme"]: [acme], schemas["globex"]: [globex]}, ["subject", "sla_recorded"]
    )
    assert written == 2
    with customer_schema(cast.acme):
        stored = Ticket.objects.get(pk=acme.pk)
        assert (stored.subject, stored.sla_recorded) == ("Acme changed", {"resolution:warning": 1})
        assert Ticket.objects.exclude(pk=acme.pk).filter(subject__endswith="changed").count() == 0
    with customer_schema(cast.globex):
        stored = Ticket.objects.get(pk=globex.pk)
        assert (stored.subject, stored.sla_recorded) == ("Globex changed", globex.sla_recorded)
    assert rows_update(Ticket, {schemas["acme"]: []}, ["subject"]) == 0
    with pytest.raises(TypeError, match="not a column"):
        rows_update(Ticket, {schemas["acme"]: [acme]}, ["comments"])


def test_new_rows_are_inserted_into_their_own_schema(cast: Cast, twins: dict[str, Ticket]) -> None:
    acme, globex = twins["acme"], twins["globex"]
    before = {slug: _entries(getattr(cast, slug)) for slug in ("acme", "globex")}
    changes = {}
    for slug, ticket in twins.items():
        after = copy.copy(ticket)
        after.subject = f"{slug} renamed"
        changes[slug] = [(ticket, after)]
    with job_context("tests.across"):
        entries = {
            getattr(cast, slug).schema_name: update_entries(pairs, ["subject"])
            for slug, pairs in changes.items()
        }
    assert rows_insert(AuditEntry, entries) == 2
    for slug, ticket in (("acme", acme), ("globex", globex)):
        new = _entries(getattr(cast, slug)) - before[slug]
        assert len(new) == 1
        with customer_schema(getattr(cast, slug)):
            entry = AuditEntry.objects.get(pk=new.pop())
        assert entry.object_pk == str(ticket.pk) and entry.job == "tests.across" and entry.channel == "system"
        assert entry.changes_dict == {"subject": [ticket.subject, f"{slug} renamed"]}
        assert entry.timestamp is not None  # the field's default, filled as save() fills it


def test_bulk_audit_entries_need_someone_acting(cast: Cast, twins: dict[str, Ticket]) -> None:
    ticket, nobody = twins["acme"], set_request_actor(None, channel="web", remote_addr=None)
    try:
        with pytest.raises(RuntimeError, match="person or a named job"):
            update_entries([(ticket, ticket)], ["subject"])
    finally:
        restore(nobody)


def _entries(customer: Any) -> set[int]:
    with customer_schema(customer):
        return set(AuditEntry.objects.values_list("pk", flat=True))
