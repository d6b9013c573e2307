"""The audit chain: every schema's audit entries (the public schema's and each customer's) form
one hash chain, kept by the database and checked by ``verify``.

An entry is sealed when its transaction commits: a deferred constraint trigger
(``audit_chain_seal``) locks the schema's ``AuditHead`` row, takes the next sequence number and
the previous entry's hash, hashes the entry with them and writes its ``AuditSeal`` (sequence,
entry, previous hash, hash) and the new head. Sealing at commit keeps the head's lock for the
last instant of a transaction only (a transaction that wrote its entries early does not hold up
every other writer of that customer until it ends), concurrent committers take turns on the lock
so the chain never forks, and an entry rolled back is never sealed. The seal is a narrow row of
its own, so an entry is written once and never updated (an update of the entry would rewrite
the row and every one of its indexes).

Other triggers (``audit_guard``) refuse UPDATE, DELETE and TRUNCATE of entries, seals and the
head, for every role, the tables' owner included; only the seal trigger itself inserts seals
and moves the head.

The hash (version 1, never changed: a new encoding would be version 2 beside it) is SHA-256
(hex) over the UTF-8 bytes of ``serviflow-audit-v1`` followed by each of these, in this order,
as ``<length>:<text>`` (length in characters) or ``-`` for NULL: the chain's name (the schema),
the sequence number, the previous hash, then the entry's ``ENTRY_FIELDS``, each in PostgreSQL's
text form (``column::text``; the timestamp as whole microseconds since the Unix epoch). A
chain's first entry has as previous hash the hash of the chain's name alone (``genesis``).
``entry_digest`` computes the same in Python, so anyone with the rows can check them without
trusting the database's functions; ``verify`` does, on two processes for a long chain.

Deleting the newest entries leaves a valid shorter chain; the published heads (``heads``,
signed, written to the log by a beat job) show it: ``verify(against=...)``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.core.signing import Signer
from django.db import connection
from django.utils.crypto import constant_time_compare
from psycopg import sql

VERSION = "serviflow-audit-v1"
# The entry's columns in hash order (after the chain's name, the sequence and the previous hash).
ENTRY_FIELDS = (
    "id",
    "content_type_id",
    "object_pk",
    "object_id",
    "object_repr",
    "serialized_data",
    "action",
    "changes_text",
    "changes",
    "actor_id",
    "actor_email",
    "cid",
    "remote_addr",
    "remote_port",
    "timestamp",
    "additional_data",
    "channel",
    "job",
)
ENTRY_TABLE = "audit_auditentry"
SEAL_TABLE = "audit_auditseal"
HEAD_TABLE = "audit_audithead"
# A chain this long is verified on two processes (each re-hashes half, the halves then joined).
PARALLEL_FROM = 100_000
FETCH = 5_000


def _as_text(alias: str, field: str) -> str:
    if field == "timestamp":
        return f"(extract(epoch FROM {alias}.timestamp) * 1000000)::bigint::text"
    return f"{alias}.{field}::text"


def parts_sql(alias: str) -> str:
    """The entry's fields as text, in hash order (SQL, for ``alias`` a row of the entry table)."""
    return ", ".join(_as_text(alias, field) for field in ENTRY_FIELDS)


def _encoded_sql(parts: Iterable[str]) -> str:
    """The encoding of ``parts`` (SQL expressions of text), as ``entry_digest`` builds it."""
    return f"'{VERSION}' || " + " || ".join(
        f"coalesce(length({part})::text || ':' || {part}, '-')" for part in parts
    )


def _digest_sql(parts: Iterable[str]) -> str:
    return f"encode(sha256(convert_to({_encoded_sql(parts)}, 'UTF8')), 'hex')"


# --- the database side (installed by audit/migrations/0003_chain.py) -----------------------------

_NEW_PARTS = [_as_text("NEW", field) for field in ENTRY_FIELDS]

# The statements on the head and the seal name the entry's own schema. When it is the first on
# the search_path (the usual case: a request or a task inside that customer), they run as static
# SQL, whose plans PL/pgSQL keeps (re-planned when the path changes); otherwise as dynamic SQL.
SEAL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.audit_chain_seal() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    digest text;
    own_path boolean := (current_schemas(false))[1] = TG_TABLE_SCHEMA;
BEGIN
    IF own_path THEN
        SELECT seq, hash INTO head_seq, head_hash FROM {HEAD_TABLE} WHERE id = 1 FOR UPDATE;
    ELSE
        EXECUTE format('SELECT seq, hash FROM %I.{HEAD_TABLE} WHERE id = 1 FOR UPDATE', TG_TABLE_SCHEMA)
            INTO head_seq, head_hash;
    END IF;
    IF head_seq IS NULL THEN
        EXECUTE format('INSERT INTO %I.{HEAD_TABLE} (id, seq, hash) VALUES (1, 0, $1) '
                       'ON CONFLICT (id) DO NOTHING', TG_TABLE_SCHEMA)
            USING {_digest_sql(["TG_TABLE_SCHEMA::text"])};
        EXECUTE format('SELECT seq, hash FROM %I.{HEAD_TABLE} WHERE id = 1 FOR UPDATE', TG_TABLE_SCHEMA)
            INTO head_seq, head_hash;
    END IF;
    head_seq := head_seq + 1;
    digest := {_digest_sql(["TG_TABLE_SCHEMA::text", "head_seq::text", "head_hash", *_NEW_PARTS])};
    IF own_path THEN
        INSERT INTO {SEAL_TABLE} (seq, entry_id, prev_hash, hash)
            VALUES (head_seq, NEW.id, head_hash, digest);
        UPDATE {HEAD_TABLE} SET seq = head_seq, hash = digest WHERE id = 1;
    ELSE
        EXECUTE format('INSERT INTO %I.{SEAL_TABLE} (seq, entry_id, prev_hash, hash) VALUES ($1, $2, $3, $4)',
                       TG_TABLE_SCHEMA)
            USING head_seq, NEW.id, head_hash, digest;
        EXECUTE format('UPDATE %I.{HEAD_TABLE} SET seq = $1, hash = $2 WHERE id = 1', TG_TABLE_SCHEMA)
            USING head_seq, digest;
    END IF;
    RETURN NULL;
END
$$;
"""  # noqa: S608 (our own constants, no input)

# Entries are never changed; seals and the head are written by the seal trigger only (a trigger
# inside a trigger: depth 2), never changed otherwise; nothing deletes or truncates.
GUARD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'ROW' AND pg_trigger_depth() > 1 AND TG_TABLE_NAME <> '{ENTRY_TABLE}'
       AND (TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND TG_TABLE_NAME = '{HEAD_TABLE}')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % of % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TRIGGERS = f"""
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON {ENTRY_TABLE}
    FOR EACH ROW EXECUTE FUNCTION public.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {ENTRY_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_guard();
CREATE CONSTRAINT TRIGGER audit_chain_seal AFTER INSERT ON {ENTRY_TABLE}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.audit_chain_seal();
CREATE TRIGGER audit_guard BEFORE INSERT OR UPDATE OR DELETE ON {SEAL_TABLE}
    FOR EACH ROW EXECUTE FUNCTION public.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {SEAL_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_guard();
CREATE TRIGGER audit_guard BEFORE INSERT OR UPDATE OR DELETE ON {HEAD_TABLE}
    FOR EACH ROW EXECUTE FUNCTION public.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {HEAD_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_guard();
"""
TRIGGERS_ON = {
    ENTRY_TABLE: ("audit_guard", "audit_no_truncate", "audit_chain_seal"),
    SEAL_TABLE: ("audit_guard", "audit_no_truncate"),
    HEAD_TABLE: ("audit_guard", "audit_no_truncate"),
}


# --- the Python side -----------------------------------------------------------------------------


def _encode(parts: Iterable[str | None]) -> str:
    return VERSION + "".join(["-" if part is None else f"{len(part)}:{part}" for part in parts])


def genesis(chain: str) -> str:
    """The previous hash of a chain's first entry."""
    return hashlib.sha256(_encode([chain]).encode()).hexdigest()


def entry_digest(chain: str, seq: int, prev_hash: str, parts: Sequence[str | None]) -> str:
    """An entry's hash from its place in the chain and its fields as text (``ENTRY_FIELDS``
    order, as ``parts_sql`` reads them): the same as the database's, computed here."""
    return hashlib.sha256(_encode([chain, str(seq), prev_hash, *parts]).encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    chain: str
    seq: int
    hash: str
    entry_id: int | None  # the newest entry's id (None: an empty chain)


@dataclass(frozen=True)
class Verdict:
    chain: str
    ok: bool
    entries: int
    first_bad: int | None = None  # the id of the first entry that fails
    first_bad_seq: int | None = None
    problem: str = ""


@dataclass(frozen=True)
class _Problem:
    entry_id: int | None
    seq: int | None
    text: str


@dataclass(frozen=True)
class _Stretch:
    """What one stretch of a chain (seq ``first``..``last``) showed when checked on its own."""

    first: int
    last: int
    count: int
    first_prev: str | None  # the previous hash its first seal names (joined to the stretch before)
    first_entry: int | None
    last_hash: str | None
    problem: _Problem | None


def chains() -> list[str]:
    """Every chain: the public schema's and each customer's (the template's included: its
    entries would be copied into every new customer)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s "
            "ORDER BY table_schema = 'public' DESC, table_schema",
            [ENTRY_TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def _stretch_query(chain: str) -> sql.Composed:
    """Every seal from seq %s to %s with its entry's fields (NULL: the entry is gone), in order."""
    return sql.SQL(
        "SELECT s.seq, s.entry_id, s.prev_hash, s.hash, e.id, {parts} FROM {seals} s"
        " LEFT JOIN {entries} e ON e.id = s.entry_id WHERE s.seq BETWEEN %s AND %s ORDER BY s.seq"
    ).format(
        parts=sql.SQL(parts_sql("e")),
        seals=sql.Identifier(chain, SEAL_TABLE),
        entries=sql.Identifier(chain, ENTRY_TABLE),
    )


def _check_stretch(chain: str, rows: Iterable[Sequence[Any]], first: int, last: int) -> _Stretch:
    """Re-hash each entry of the stretch and follow its links; the first problem is kept."""
    expected, previous = first, (genesis(chain) if first == 1 else None)
    count, first_prev, first_entry, problem = 0, None, None, None
    for seq, entry_id, prev_hash, stored, present, *parts in rows:
        if count == 0:
            first_prev, first_entry = prev_hash, entry_id
        count += 1
        if seq != expected:
            problem = _Problem(entry_id, expected, f"the seals of seq {expected} to {seq - 1} are missing")
        elif present is None:
            problem = _Problem(entry_id, seq, "it was deleted (its seal remains)")
        elif previous is not None and prev_hash != previous:
            problem = _Problem(entry_id, seq, "its previous hash is not the hash before it")
        elif entry_digest(chain, seq, prev_hash, parts) != stored:
            problem = _Problem(entry_id, seq, "its content does not match its hash")
        if problem is not None:
            break
        previous, expected = stored, seq + 1
    if problem is None and expected <= last:
        problem = _Problem(None, expected, f"the seals of seq {expected} to {last} are missing")
    return _Stretch(first, last, count, first_prev, first_entry, previous, problem)


def _stretch_in_process(chain: str, first: int, last: int) -> _Stretch:
    with connection.chunked_cursor() as cursor:
        cursor.execute(_stretch_query(chain), [first, last])
        return _check_stretch(chain, _batched(cursor), first, last)


def _stretch_on_its_own(params: dict[str, Any], chain: str, first: int, last: int) -> _Stretch:
    """A stretch checked in a process of its own, on a connection of its own."""
    with psycopg.connect(**params) as conn, conn.cursor(name="audit_verify") as cursor:
        cursor.itersize = FETCH
        cursor.execute(_stretch_query(chain), [first, last])
        return _check_stretch(chain, _batched(cursor), first, last)


def _batched(cursor: Any) -> Iterator[Sequence[Any]]:
    while batch := cursor.fetchmany(FETCH):
        yield from batch


def _plain_params() -> dict[str, Any]:
    """The database's connection parameters a new process can take (no adapters, no classes)."""
    params = connection.get_connection_params()
    return {name: value for name, value in params.items() if isinstance(value, str | int) and value != ""}


def _stretches(chain: str, last: int) -> list[_Stretch]:
    if last < PARALLEL_FROM:
        return [_stretch_in_process(chain, 1, last)]
    middle = last // 2
    spawn = multiprocessing.get_context("spawn")  # no copy of this process's connections or threads
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        params = _plain_params()
        halves = pool.map(
            _stretch_on_its_own, [params, params], [chain, chain], [1, middle + 1], [middle, last]
        )
        return list(halves)


def _joined(chain: str, stretches: list[_Stretch]) -> tuple[int, _Problem | None]:
    """The stretches in order: the first problem, a join that does not link included."""
    count, previous = 0, None
    for stretch in stretches:
        if previous is not None and stretch.count and stretch.first_prev != previous:
            join = _Problem(stretch.first_entry, stretch.first, "its previous hash is not the hash before it")
            return count + 1, join
        count += stretch.count
        if stretch.problem is not None:
            return count, stretch.problem
        previous = stretch.last_hash
    return count, None


def _unsealed(chain: str) -> int | None:
    """The first committed entry without a seal (written round the seal trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT min(e.id) FROM {entries} e"
                " WHERE NOT EXISTS (SELECT 1 FROM {seals} s WHERE s.entry_id = e.id)"
            ).format(entries=sql.Identifier(chain, ENTRY_TABLE), seals=sql.Identifier(chain, SEAL_TABLE))
        )
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def head_of(chain: str) -> Head:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT h.seq, h.hash, (SELECT s.entry_id FROM {seals} s WHERE s.seq = h.seq) FROM {head} h"
            ).format(head=sql.Identifier(chain, HEAD_TABLE), seals=sql.Identifier(chain, SEAL_TABLE))
        )
        row = cursor.fetchone()
    if row is None:
        return Head(chain=chain, seq=0, hash=genesis(chain), entry_id=None)
    return Head(chain=chain, seq=int(row[0]), hash=str(row[1]), entry_id=row[2])


def _last_seq(chain: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT max(seq) FROM {seals}").format(seals=sql.Identifier(chain, SEAL_TABLE))
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def verify(chain: str, against: Head | None = None) -> Verdict:
    """Re-hash every entry of ``chain`` in Python and follow the links: the first entry whose
    hash, previous hash or sequence number is wrong, or that is gone, is named. Every entry must
    be sealed. Then the chain must end where the database's head says, and reach ``against`` (a
    head published earlier), if given."""
    last = _last_seq(chain)
    count, problem = _joined(chain, _stretches(chain, last)) if last else (0, None)
    if problem is not None:
        return Verdict(chain, False, count, problem.entry_id, problem.seq, problem.text)
    unsealed = _unsealed(chain)
    if unsealed is not None:
        return Verdict(chain, False, count, unsealed, None, "it was never sealed into the chain")
    for head, name in ((head_of(chain), "the database's head"), (against, "the recorded head")):
        if head is None:
            continue
        if head.seq > last:
            return Verdict(
                chain,
                False,
                count,
                None,
                last + 1,
                f"entries {last + 1} to {head.seq} are missing ({name}: seq {head.seq}, id {head.entry_id})",
            )
        at = _seal_at(chain, head.seq) if head.seq else None
        if head.seq and (at is None or at[1] != head.hash):
            return Verdict(
                chain,
                False,
                count,
                at[0] if at else None,
                head.seq,
                f"the entry at seq {head.seq} is not the one {name} names",
            )
    return Verdict(chain, True, count)


def _seal_at(chain: str, seq: int) -> tuple[int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT entry_id, hash FROM {seals} WHERE seq = %s").format(
                seals=sql.Identifier(chain, SEAL_TABLE)
            ),
            [seq],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


# --- published heads -----------------------------------------------------------------------------

HEAD_SALT = "serviflow.audit.head"


@dataclass(frozen=True)
class SignedHead:
    """A chain's head as published (the beat job writes it to the log, the API and the audit
    page show it): signed with the secret key, so a recorded one cannot be made up later."""

    chain: str
    seq: int
    hash: str
    entry_id: int | None
    signed_at: str  # ISO 8601, UTC
    signature: str

    def as_head(self) -> Head:
        return Head(chain=self.chain, seq=self.seq, hash=self.hash, entry_id=self.entry_id)


def _payload(chain: str, seq: int, digest: str, entry_id: int | None, signed_at: str) -> str:
    return json.dumps([chain, seq, digest, entry_id, signed_at], separators=(",", ":"))


def signed(head: Head, at: datetime) -> SignedHead:
    signed_at = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = _payload(head.chain, head.seq, head.hash, head.entry_id, signed_at)
    return SignedHead(
        chain=head.chain,
        seq=head.seq,
        hash=head.hash,
        entry_id=head.entry_id,
        signed_at=signed_at,
        signature=Signer(salt=HEAD_SALT).signature(payload),
    )


def current_heads(at: datetime) -> list[SignedHead]:
    return [signed(head_of(chain), at) for chain in chains()]


class BadRecord(ValueError):
    pass


def recorded_heads(lines: Iterable[str]) -> dict[str, Head]:
    """The newest recorded head of each chain in ``lines`` (each a published head as JSON, alone
    or at the end of a log line). A line whose signature does not match is refused by number."""
    newest: dict[str, Head] = {}
    for number, line in enumerate(lines, start=1):
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
            head = SignedHead(**{name: record[name] for name in SignedHead.__dataclass_fields__})
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRecord(f"line {number}: not a published head ({exc})") from exc
        payload = _payload(head.chain, head.seq, head.hash, head.entry_id, head.signed_at)
        if not constant_time_compare(Signer(salt=HEAD_SALT).signature(payload), str(head.signature)):
            raise BadRecord(f"line {number}: the signature does not match (not published by this server)")
        if head.chain not in newest or head.seq > newest[head.chain].seq:
            newest[head.chain] = head.as_head()
    return newest
