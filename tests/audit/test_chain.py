"""The audit chain (audit/chain.py): entries sealed at commit into one hash chain per schema,
append-only for every role, verified by ``audit_verify`` and the API; tampering is found and the
first bad entry named: content edited, an entry deleted, two swapped, the newest three deleted
(against a recorded head). 30 concurrent writers in one customer leave one unbroken chain.

These tests work on committed rows (the seal happens at commit), in customers of their own; a
tampering test puts every row back as it was, so the chains stay valid for the rest of the suite.
Tampering goes round the triggers as only a superuser can (``session_replication_role``).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import chain
from audit.context import job_context
from audit.models import AuditEntry
from tenants.models import Customer
from tenants.schema import customer_schema
from tenants.services import customer_provision
from tests.conftest import Cast, api_for
from tests.support import processes
from tickets.models import Ticket

SEAL = {"seq": "seal__seq", "prev_hash": "seal__prev_hash", "hash": "seal__hash"}


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock(), job_context("tests.chain"):
        yield


def new_customer() -> Customer:
    tag = uuid.uuid4().hex[:6]
    return customer_provision(name=f"Chain {tag}", slug=f"chain-{tag}")


def write(customer: Customer, count: int, what: str = "entry") -> list[int]:
    """``count`` entries in ``customer``'s chain, each committed on its own."""
    kind = ContentType.objects.get_for_model(Ticket)
    with customer_schema(customer):
        return [
            AuditEntry.objects.create(
                content_type=kind,
                object_pk=str(n),
                object_repr=f"{what} {n}",
                action=0,
                changes={"n": [n, n + 1]},
            ).pk
            for n in range(count)
        ]


def rows(customer: Customer) -> list[dict[str, Any]]:
    """Every entry with its seal (``seq``, ``prev_hash``, ``hash``), in chain order."""
    with customer_schema(customer):
        entries = AuditEntry.objects.order_by("seal__seq").values(*chain.ENTRY_FIELDS, *SEAL.values())
        return [{**row, **{name: row.pop(path) for name, path in SEAL.items()}} for row in entries]


@contextmanager
def triggers_off() -> Iterator[Any]:
    """What someone with the database's superuser could do: write round the triggers."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def put_back(customer: Customer, saved: list[dict[str, Any]]) -> None:
    """The rows exactly as they were (deleted ones inserted again, ids and seals included)."""
    entries = f'"{customer.schema_name}".{chain.ENTRY_TABLE}'
    seals = f'"{customer.schema_name}".{chain.SEAL_TABLE}'
    with triggers_off() as cursor:
        cursor.execute(f"DELETE FROM {entries} WHERE id = ANY(%s)", [[row["id"] for row in saved]])  # noqa: S608
        cursor.execute(f"DELETE FROM {seals} WHERE seq = ANY(%s)", [[row["seq"] for row in saved]])  # noqa: S608
        names = ", ".join(chain.ENTRY_FIELDS)
        marks = ", ".join(["%s"] * len(chain.ENTRY_FIELDS))
        json_fields = ("serialized_data", "changes", "additional_data")
        for row in saved:
            values = [
                AuditEntry._meta.get_field(name).get_db_prep_save(row[name], connection)
                if name in json_fields
                else row[name]
                for name in chain.ENTRY_FIELDS
            ]
            cursor.execute(f"INSERT INTO {entries} ({names}) VALUES ({marks})", values)  # noqa: S608
            cursor.execute(
                f"INSERT INTO {seals} (seq, entry_id, prev_hash, hash) VALUES (%s, %s, %s, %s)",  # noqa: S608
                [row["seq"], row["id"], row["prev_hash"], row["hash"]],
            )
    assert chain.verify(customer.schema_name).ok


def test_entries_are_sealed_at_commit_into_one_verified_chain_per_schema(committed: None) -> None:
    customer = new_customer()
    ids = write(customer, 5)
    stored = rows(customer)
    assert [row["id"] for row in stored] == ids and [row["seq"] for row in stored] == [1, 2, 3, 4, 5]
    assert stored[0]["prev_hash"] == chain.genesis(customer.schema_name)
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(stored))
    verdict = chain.verify(customer.schema_name)
    assert verdict == chain.Verdict(customer.schema_name, True, 5)
    assert chain.head_of(customer.schema_name) == chain.Head(
        customer.schema_name, 5, stored[-1]["hash"], ids[-1]
    )
    assert chain.verify("public").ok and chain.head_of("public").seq > 0  # provisioning was audited there


def test_a_rolled_back_entry_is_never_sealed_and_leaves_no_gap(committed: None) -> None:
    customer = new_customer()
    write(customer, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        write(customer, 2, "rolled back")
        raise RuntimeError("undo")
    write(customer, 1, "after")
    assert [(row["seq"], row["object_repr"]) for row in rows(customer)] == [(1, "entry 0"), (2, "after 0")]
    assert chain.verify(customer.schema_name).ok


def test_nobody_updates_deletes_or_truncates_an_entry_a_seal_or_the_head(committed: None) -> None:
    """The triggers refuse the application's role and the tables' owner alike (this test's
    connection is the owner, a superuser even); only the seal trigger writes seals and the head."""
    customer = new_customer()
    (entry_id,) = write(customer, 1)
    with customer_schema(customer):
        entries = AuditEntry.objects.filter(pk=entry_id)
        for attempt in (lambda: entries.update(object_repr="rewritten"), entries.delete):
            with pytest.raises(DatabaseError, match="append-only"):
                attempt()
        seals = chain.SEAL_TABLE
        for statement in (
            f"TRUNCATE {chain.ENTRY_TABLE}",
            f"UPDATE {chain.ENTRY_TABLE} SET job = 'x' WHERE id = {entry_id}",  # noqa: S608
            f"UPDATE {seals} SET hash = 'x'",  # noqa: S608
            f"DELETE FROM {seals}",  # noqa: S608
            f"TRUNCATE {seals}",
            f"INSERT INTO {seals} (seq, entry_id, prev_hash, hash) VALUES (2, {entry_id}, 'a', 'b')",  # noqa: S608
            f"UPDATE {chain.HEAD_TABLE} SET seq = 0",  # noqa: S608
            f"DELETE FROM {chain.HEAD_TABLE}",  # noqa: S608
        ):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
    assert chain.verify(customer.schema_name).ok and len(rows(customer)) == 1


@pytest.mark.parametrize("tamper", ["edited", "deleted", "deleted with its seal", "swapped"])
def test_tampering_is_found_and_the_first_bad_entry_named(committed: None, tamper: str) -> None:
    customer = new_customer()
    ids = write(customer, 6)
    saved = rows(customer)
    table = f'"{customer.schema_name}".{chain.ENTRY_TABLE}'
    with triggers_off() as cursor:
        if tamper == "edited":  # one field of the third entry, its hashes untouched
            cursor.execute(f"UPDATE {table} SET object_repr = 'nothing to see' WHERE id = %s", [ids[2]])  # noqa: S608
        elif tamper == "deleted":  # the third entry: its seal names it
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [ids[2]])  # noqa: S608
        elif tamper == "deleted with its seal":  # the third entry and its seal: seq 3 is gone
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [ids[2]])  # noqa: S608
            cursor.execute(f'DELETE FROM "{customer.schema_name}".{chain.SEAL_TABLE} WHERE seq = 3')  # noqa: S608
        else:  # what the third and fourth say, swapped (their chain columns stay)
            third, fourth = saved[2], saved[3]
            for row, other in ((third, fourth), (fourth, third)):
                cursor.execute(
                    f"UPDATE {table} SET object_repr = %s, object_pk = %s WHERE id = %s",  # noqa: S608
                    [other["object_repr"], other["object_pk"], row["id"]],
                )
    try:
        verdict = chain.verify(customer.schema_name)
        expected = {
            "edited": (ids[2], 3),
            "deleted": (ids[2], 3),
            "deleted with its seal": (ids[3], 3),
            "swapped": (ids[2], 3),
        }[tamper]
        assert (verdict.ok, verdict.first_bad, verdict.first_bad_seq) == (False, *expected), verdict
        answer = api_for_admin().get("/api/v1/audit/verify/").json()
        assert answer["ok"] is False and answer["first_bad"] == expected[0], answer
        assert answer["chain"] == customer.schema_name
        with pytest.raises(CommandError, match="failed verification"):
            call_command("audit_verify", chain=customer.schema_name, stdout=open("/dev/null", "w"))  # noqa: SIM115
    finally:
        put_back(customer, saved)


def api_for_admin() -> Any:
    from accounts.models import User

    return api_for(User.objects.get(email="alice@msp.test"))


def test_the_newest_entries_deleted_are_found_against_a_recorded_head(
    committed: None, tmp_path: Path
) -> None:
    """Deleting the newest three leaves a shorter chain that is valid in itself (the attacker
    rewound the head row too): only the head published before tells."""
    customer = new_customer()
    ids = write(customer, 8)
    saved = rows(customer)
    published = tmp_path / "heads.log"
    from audit.tasks import publish_heads

    with published.open("w") as log:  # what the beat job writes, one line per chain
        for signed in chain.current_heads(timezone.now()):
            log.write(f"2026-12-07 10:00:00 INFO serviflow.audit.heads audit head {_json(signed)}\n")
    assert publish_heads() == len(chain.chains())
    schema = customer.schema_name
    with triggers_off() as cursor:
        cursor.execute(f'DELETE FROM "{schema}".{chain.ENTRY_TABLE} WHERE id = ANY(%s)', [ids[5:]])  # noqa: S608
        cursor.execute(f'DELETE FROM "{schema}".{chain.SEAL_TABLE} WHERE seq > 5')  # noqa: S608
        rewind = f'UPDATE "{schema}".{chain.HEAD_TABLE} SET seq = %s, hash = %s'  # noqa: S608
        cursor.execute(rewind, [5, saved[4]["hash"]])
    try:
        assert chain.verify(schema).ok  # in itself, a valid chain of five
        with published.open() as lines:
            recorded = chain.recorded_heads(lines)
        verdict = chain.verify(schema, against=recorded[schema])
        assert (verdict.ok, verdict.first_bad_seq) == (False, 6)
        assert f"entries 6 to 8 are missing (the recorded head: seq 8, id {ids[7]})" == verdict.problem
        out = tmp_path / "out.txt"
        with pytest.raises(CommandError), out.open("w") as stdout:
            call_command("audit_verify", against=published, stdout=stdout)
        assert f"BAD  {schema}: no entry (seq 6): entries 6 to 8 are missing" in out.read_text()
    finally:
        put_back(customer, saved)
        with triggers_off() as cursor:
            cursor.execute(rewind, [8, saved[7]["hash"]])
    call_command("audit_verify", against=published, stdout=open("/dev/null", "w"))  # noqa: SIM115


def _json(head: chain.SignedHead) -> str:
    import json
    from dataclasses import asdict

    return json.dumps(asdict(head))


def test_a_forged_head_is_refused(committed: None) -> None:
    (head,) = [h for h in chain.current_heads(timezone.now()) if h.chain == "public"]
    forged = _json(head).replace(f'"seq": {head.seq}', f'"seq": {head.seq + 100}')
    with pytest.raises(chain.BadRecord, match="line 2: the signature does not match"):
        chain.recorded_heads([_json(head), forged])


def test_thirty_concurrent_writers_in_one_customer_leave_one_unbroken_chain(committed: None) -> None:
    """Thirty clients of their own (the pool of this process holds a few), each writing three
    entries in one transaction, all committing at once: the seals take turns on the head."""
    customer = new_customer()
    kind = ContentType.objects.get_for_model(Ticket).pk
    start = threading.Barrier(30)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with psycopg.connect(processes.test_database_url()) as client:
                client.execute(f'SET search_path TO "{customer.schema_name}", public')
                for k in range(3):
                    client.execute(
                        f"INSERT INTO {chain.ENTRY_TABLE} (content_type_id, object_pk, object_repr, action,"  # noqa: S608
                        " changes_text, timestamp, channel, job)"
                        " VALUES (%s, %s, %s, 1, '', now(), 'system', %s)",
                        [kind, f"{n}.{k}", f"writer {n}", f"tests.chain.{n}"],
                    )
                start.wait(timeout=60)
                client.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stored = rows(customer)
    assert [row["seq"] for row in stored] == list(range(1, 91))
    assert chain.verify(customer.schema_name) == chain.Verdict(customer.schema_name, True, 90)


def test_verify_and_heads_are_for_provider_admins(cast: Cast) -> None:
    assert api_for(cast.alice).get("/api/v1/audit/verify/").status_code == 200
    heads = api_for(cast.alice).get("/api/v1/audit/heads/").json()
    assert {"public", cast.acme.schema_name} <= {head["chain"] for head in heads}
    assert set(heads[0]) == {"chain", "seq", "hash", "entry_id", "signed_at", "signature"}
    for outsider in (cast.bob, cast.acme_admin, cast.acme_user):
        assert api_for(outsider).get("/api/v1/audit/verify/").status_code in (403, 404)
        assert api_for(outsider).get("/api/v1/audit/heads/").status_code in (403, 404)
