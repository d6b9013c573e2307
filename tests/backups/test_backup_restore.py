"""README "Backups and restore", run word for word: the whole database and one customer, each
dumped and restored into a fresh database on the server ``DATABASE_URL`` names, with that
server's own ``pg_dump`` and ``pg_restore``.

The source is a database of its own: a copy of the test database (its platform and template),
plus a small committed dataset written by ``dataset.py`` in a process of its own (two customers,
tickets, replies, and so audit entries in each chain). Every database made here is dropped.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from audit.models import AuditEntry
from tests.support import postgres, processes
from tickets.index.models import TicketIndexEntry
from tickets.models import Comment, Ticket

README = processes.ROOT / "README.md"
PER_SCHEMA = {
    what: model._meta.db_table
    for what, model in (("tickets", Ticket), ("comments", Comment), ("audit entries", AuditEntry))
}


def documented() -> list[str]:
    """The shell blocks of README's "Backups and restore": the whole database, one customer."""
    text = README.read_text()
    section = text[text.index("## Backups and restore") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def _url(name: str) -> str:
    return urlsplit(processes.test_database_url())._replace(path=f"/{name}").geturl()


@contextmanager
def databases(*names: str) -> Iterator[list[str]]:
    """Fresh empty databases (``createdb``), dropped afterwards whatever happened."""
    with psycopg.connect(processes.test_database_url(), autocommit=True) as admin:
        try:
            for name in names:
                admin.execute(f'CREATE DATABASE "{name}"')
            yield [_url(name) for name in names]
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _one(url: str, statement: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(statement).fetchone()
        return row[0] if row else None


def counts(url: str) -> dict[str, dict[str, object]]:
    """Per customer schema: its rows of each table in ``PER_SCHEMA`` and its index rows."""
    found: dict[str, dict[str, object]] = {}
    with psycopg.connect(url) as conn:
        schemas = conn.execute(
            "SELECT c.id, c.schema_name FROM tenants_customer c"
            " JOIN pg_namespace n ON n.nspname = c.schema_name"
            " WHERE c.schema_name NOT IN ('public', 'customer_template')"
        ).fetchall()
        for customer_id, schema in schemas:
            row: dict[str, object] = {
                what: conn.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()[0]  # type: ignore[index]  # noqa: S608
                for what, table in PER_SCHEMA.items()
            }
            row["index rows"] = conn.execute(
                f"SELECT count(*) FROM {TicketIndexEntry._meta.db_table} WHERE customer_id = %s",  # noqa: S608
                [customer_id],
            ).fetchone()[0]  # type: ignore[index]
            found[schema] = row
    return found


def test_the_documented_backups_restore_everything_or_one_customer(
    django_db_setup: None, tmp_path: Path
) -> None:
    bin_dir = postgres.bin_dir_for(int(str(_one(processes.test_database_url(), "SHOW server_version_num"))))
    whole_block, customer_block = documented()
    tag = uuid.uuid4().hex[:6]
    slugs = [f"bk-a-{tag}", f"bk-b-{tag}"]
    names = [f"test_backup_{what}_{tag}" for what in ("source", "whole", "customer")]
    with postgres.unconsumed_queue("backup") as queue, databases(*names) as (source, whole, single):
        env = processes.process_env(CELERY_QUEUE=queue)
        env["PATH"] = os.pathsep.join([str(bin_dir), str(processes.VENV_BIN), env["PATH"]])
        started = time.monotonic()
        postgres.copy_database(processes.test_database_url(), source, tmp_path, bin_dir)
        postgres.run_in_project(
            [sys.executable, "-m", "tests.backups.dataset", *slugs], {**env, "DATABASE_URL": source}
        )
        before = counts(source)
        made_at = time.monotonic()
        with psycopg.connect(source) as conn:
            found = conn.execute(
                "SELECT slug, schema_name FROM tenants_customer WHERE slug = ANY(%s)", [slugs]
            ).fetchall()
        schemas: dict[str, str] = dict(found)
        for schema in schemas.values():
            made = before[schema]
            assert (made["tickets"], made["comments"], made["index rows"]) == (3, 3, 3)
            assert int(str(made["audit entries"])) >= 6

        # The whole database: every customer's rows, and every chain verifies.
        said = postgres.run_in_project(
            ["bash", "-euo", "pipefail", "-c", whole_block],
            {**env, "DATABASE_URL": source, "RESTORE_URL": whole, "BACKUP_DIR": str(tmp_path)},
        )
        whole_at = time.monotonic()
        assert counts(whole) == before
        assert "BAD" not in said and f"ok   {schemas[slugs[0]]}" in said and "ok   public" in said

        # One customer: its schema and tickets, and nobody else's.
        kept, other = schemas[slugs[0]], schemas[slugs[1]]
        said = postgres.run_in_project(
            ["bash", "-euo", "pipefail", "-c", customer_block],
            {
                **env,
                "DATABASE_URL": source,
                "RESTORE_URL": single,
                "BACKUP_DIR": str(tmp_path),
                "SLUG": slugs[0],
                "SCHEMA": kept,
            },
        )
        print(
            f"source with its dataset {made_at - started:.1f} s, whole database {whole_at - made_at:.1f} s,"
            f" one customer {time.monotonic() - whole_at:.1f} s (each with its manage.py commands)"
        )
        assert counts(single) == {kept: before[kept]}
        assert _one(single, f"SELECT count(*) FROM pg_namespace WHERE nspname = '{other}'") == 0  # noqa: S608
        assert _one(single, f"SELECT count(*) FROM {TicketIndexEntry._meta.db_table}") == 3  # noqa: S608
        assert _one(single, "SELECT count(*) FROM ticket_search") == 3
        assert f"ok   {kept}" in said
