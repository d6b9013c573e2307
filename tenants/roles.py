"""The application's database role: what the web, worker, beat and mail processes may do.

Migrations run as the owner role (``manage.py sync_platform``, which owns every schema and
table); the processes that serve connect as a role of their own, named by ``DATABASE_APP_ROLE``,
which ``app_role_grant`` (run by ``sync_platform`` as the owner, after migrating) grants exactly:

- USAGE on the public, template and every customer schema, and no CREATE anywhere (no DDL) nor
  TEMPORARY on the database (revoked from PUBLIC too);
- SELECT, INSERT, UPDATE and DELETE on their tables, USAGE and SELECT on their sequences;
- on the audit chain's tables (``audit.chain``) SELECT and INSERT only. The head also needs
  UPDATE: the seal trigger, which runs as the writer, moves it; its ``audit_guard`` trigger
  refuses every other change of entries, seals and head, for every role. ``django_migrations``
  and django-auditlog's unused table are read-only;
- EXECUTE on the owner's two ``SECURITY DEFINER`` functions, the only DDL it can cause: the clone
  function that creates one customer schema (``tenants.cloning``) and ``ANALYZE`` of public
  tables (``core.statistics``).

Default privileges give tables and sequences the owner creates later in those schemas the same
grants (a ``migrate_schemas`` run by hand), and a new customer schema gets the template's
privileges from the clone function. Not being the owner, a superuser or a member of one, the
role cannot read ``pg_authid`` nor other roles' queries in ``pg_stat_activity``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from audit.chain import ENTRY_TABLE, HEAD_TABLE, SEAL_TABLE
from tenants.cloning import CLONE_FUNCTION, install_clone_function

ANALYZE_FUNCTION = "public.serviflow_analyze"

_WRITE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
_TABLE_PRIVILEGES = {
    ENTRY_TABLE: frozenset({"SELECT", "INSERT"}),
    SEAL_TABLE: frozenset({"SELECT", "INSERT"}),
    HEAD_TABLE: frozenset({"SELECT", "INSERT", "UPDATE"}),
    "auditlog_logentry": frozenset({"SELECT"}),
    "django_migrations": frozenset({"SELECT"}),
}
_SEQUENCE = frozenset({"USAGE", "SELECT"})

_ANALYZE_SQL = f"""
CREATE OR REPLACE FUNCTION {ANALYZE_FUNCTION}(tables text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $analyze$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY tables LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_class
                        WHERE relnamespace = 'public'::regnamespace AND relname = name AND relkind = 'r') THEN
            RAISE EXCEPTION 'not a table of the public schema: %', name USING ERRCODE = 'undefined_table';
        END IF;
        EXECUTE format('ANALYZE public.%I', name);
    END LOOP;
END
$analyze$
"""  # noqa: S608 (constants)

# Unrestricted: the owner or a member of it, or holding (itself or through a role it belongs to)
# an attribute or predefined role that passes by privileges or reads and writes everything.
_ROLE = """
SELECT r.rolname = current_user OR pg_has_role(r.oid, current_user, 'MEMBER')
       OR EXISTS (SELECT 1 FROM pg_roles m
                   WHERE pg_has_role(r.oid, m.oid, 'MEMBER')
                     AND (m.rolsuper OR m.rolbypassrls OR m.rolcreaterole OR m.rolreplication
                          OR m.rolname IN ('pg_read_all_data', 'pg_write_all_data',
                                           'pg_execute_server_program', 'pg_read_server_files',
                                           'pg_write_server_files')))
  FROM pg_roles r WHERE r.rolname = %s
"""

# Each table's and sequence's privileges held by the role now, in every schema at once (one scan
# of pg_class, however many customers). The role by its exact name: ::regrole would fold case.
_HELD = """
SELECT n.nspname, c.relname, c.relkind = 'S',
       COALESCE(array_agg(a.privilege_type)
                FILTER (WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %(role)s)), '{}')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL aclexplode(c.relacl) a ON true
 WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'S')
 GROUP BY n.nspname, c.relname, c.relkind
"""


class UnsuitableRole(RuntimeError):
    pass


def owner_functions_install() -> None:
    """(Re)create the owner's functions the application role calls: after every migration of the
    template, since the clone function is generated from it."""
    install_clone_function(settings.TENANT_TEMPLATE_SCHEMA)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANALYZE_SQL)
        cursor.execute(f"REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION}(text[]) FROM PUBLIC")


def app_role_grant(*, role: str) -> int:
    """Grant ``role`` what the application needs and nothing more (idempotent: only what differs
    is changed); returns how many schemas it covered. Run as the owner."""
    with connection.cursor() as cursor:
        cursor.execute(_ROLE, [role])
        row = cursor.fetchone()
        if row is None:
            raise UnsuitableRole(f"the application role {role!r} does not exist: create it first")
        if row[0]:
            raise UnsuitableRole(
                f"the application role {role!r} is the owner, a superuser, has CREATEROLE, BYPASSRLS or "
                "REPLICATION, or is a member of the owner, of such a role or of a pg_*_all_data or "
                "pg_*_server_* role: it would not be restricted"
            )
        cursor.execute(
            "SELECT n.nspname FROM pg_namespace n JOIN public.tenants_customer c ON c.schema_name = n.nspname"
            " ORDER BY n.nspname = 'public' DESC, n.nspname"
        )
        schemas = [name for (name,) in cursor.fetchall()]
        cursor.execute(_HELD, {"role": role, "schemas": schemas})
        held: dict[str, list[tuple[str, bool, list[str]]]] = {schema: [] for schema in schemas}
        for schema, name, is_sequence, privileges in cursor.fetchall():
            held[schema].append((name, is_sequence, privileges))
    grantee = sql.Identifier(role)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # No temporary tables: a trigger function of its own on one would run inside the seal
        # trigger's depth and pass audit_guard (nothing the application runs needs them).
        cursor.execute(
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), grantee
            )
        )
        for function in (f"{CLONE_FUNCTION}(text)", f"{ANALYZE_FUNCTION}(text[])"):
            cursor.execute(sql.SQL(f"GRANT EXECUTE ON FUNCTION {function} TO {{}}").format(grantee))
    for schema in schemas:  # one transaction each: a thousand customers hold no long locks
        with transaction.atomic(), connection.cursor() as cursor:
            _schema_grant(cursor, schema, role, held[schema])
    return len(schemas)


def _schema_grant(
    cursor: CursorWrapper, schema: str, role: str, held: list[tuple[str, bool, list[str]]]
) -> None:
    names = {"schema": sql.Identifier(schema), "role": sql.Identifier(role)}
    for statement in (
        "REVOKE CREATE ON SCHEMA {schema} FROM {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES"
        " TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ):
        cursor.execute(sql.SQL(statement).format(**names))
    for name, is_sequence, privileges in held:
        wanted = _SEQUENCE if is_sequence else _TABLE_PRIVILEGES.get(name, _WRITE)
        if set(privileges) == wanted:
            continue
        kind = sql.SQL("SEQUENCE" if is_sequence else "TABLE")
        relation = sql.Identifier(schema, name)
        cursor.execute(sql.SQL("REVOKE ALL ON {} {} FROM {}").format(kind, relation, names["role"]))
        cursor.execute(
            sql.SQL("GRANT {} ON {} {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(privilege) for privilege in sorted(wanted)),
                kind,
                relation,
                names["role"],
            )
        )
