"""Copy the migrated template schema into a new customer schema, inside the caller's transaction.

Why not django-tenants' clone: it re-creates a 4,600-line PL/pgSQL helper on every call (racy
under concurrent provisioning) and then runs ``migrate_schemas --fake`` per customer (~0.8 s).
The template is ours and holds only tables, constraints, indexes and the migration records, so
copying those from the catalog is a few dozen statements and stays transactional: a failure
anywhere leaves no schema behind.

The application connects as a role that may not run DDL (README "Database roles"), yet the web
process provisions customers. So the copy is a PL/pgSQL function, ``public.serviflow_clone_template``,
that the owner role generates from the catalog after every migration of the template
(``install_clone_function``, called by ``tenants.platform.ensure_template_tenant``, hence by
``manage.py sync_platform`` and the test set-up) and that runs with the owner's rights
(``SECURITY DEFINER``, ``search_path`` pinned, EXECUTE for the application role only). It creates
one schema, named by the customer naming rule, for a customer row the caller has already
inserted, and nothing else. Dev, tests and production go through it alike (there the owner is
simply the connecting superuser).

The function carries the template's migration fingerprint of when it was generated; run after a
migration of the template that was not followed by ``sync_platform`` (a ``migrate_schemas`` by
hand), it refuses (``TemplateChanged``) instead of copying an outdated recipe: the fix is to run
``sync_platform``, as every deploy does. It is not regenerated on the fly because the
application role could not, and one code path everywhere is the point.

Triggers are copied too, after the rows (the audit chain's, ``audit.chain``, whose functions live
in the public schema). Anything else in the template (views, functions, plain sequences) is
refused loudly rather than silently left out; ``tests/tenants/test_provisioning.py`` compares
clone and template. The clone gets the template's privileges (``tenants.roles`` grants the
application role on the template like on every customer schema).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.utils import OperationalError
from psycopg import errors, sql

from tenants.validators import MAX_SCHEMA_NAME, SCHEMA_NAME_REGEX

CLONE_FUNCTION = "public.serviflow_clone_template"

_UNSUPPORTED_OBJECTS = """
SELECT 'view ' || c.relname FROM pg_class c
 WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = %(ns)s::regnamespace
UNION ALL
SELECT 'sequence ' || c.relname FROM pg_class c
 WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'S'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
"""

_TABLES = """
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
"""

# Constraints by name, foreign keys last (they need every table and unique key in place).
# Read with search_path = the template only, so references to template tables come out
# unqualified (and resolve to the clone) while references to public tables stay qualified.
_CONSTRAINTS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
  FROM pg_constraint c
 WHERE c.connamespace = %(ns)s::regnamespace AND c.contype IN ('p', 'u', 'c', 'x', 'f')
   AND c.conrelid <> 0
 ORDER BY c.contype = 'f', c.conrelid::regclass::text, c.conname
"""

# Indexes that are not the backing index of a primary key, unique or exclusion constraint.
_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE ic.relnamespace = %(ns)s::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                    WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
 ORDER BY ic.relname
"""

# Read with the public schema on the path: the table comes out qualified with the template's name.
_TRIGGERS = """
SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(ns)s::regnamespace AND NOT t.tgisinternal
 ORDER BY c.relname, t.tgname
"""

_SEQUENCES = """
SELECT c.relname FROM pg_class c WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'S'
"""

_IDENTITY_COLUMNS = """
SELECT a.attname FROM pg_attribute a
 WHERE a.attrelid = %(table)s::regclass AND a.attidentity <> '' AND NOT a.attisdropped
"""

_FINGERPRINT = "SELECT count(*) || ':' || COALESCE(max(id), 0) FROM {}.django_migrations"

# The template's privileges, copied onto the clone at run time (so granting the template is
# enough, whichever roles that names): on the schema, on each table by name, on its sequences
# (granted alike on all of them by tenants.roles), and the schema's default privileges. The
# template's relations are named ({relations}), so pg_class is read through its index on names:
# a thousand customers' tables are not scanned on every provisioning.
_COPY_PRIVILEGES = """
    FOR grant_sql IN
        SELECT format('GRANT %s ON SCHEMA %I TO %s', string_agg(a.privilege_type, ', '), target, g.name)
          FROM pg_namespace n, aclexplode(n.nspacl) a, LATERAL ({grantee}) g
         WHERE n.oid = {source}::regnamespace AND a.grantee <> n.nspowner GROUP BY g.name
        UNION ALL
        SELECT format('GRANT %s ON %s TO %s',
                      privileges, string_agg(format('%I.%I', target, relname), ', '), name)
          FROM (SELECT c.relname, g.name,
                       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
                  FROM pg_class c, aclexplode(c.relacl) a, LATERAL ({grantee}) g
                 WHERE c.relname = ANY({relations}) AND c.relnamespace = {source}::regnamespace
                   AND c.relkind IN ('r', 'p')
                   AND a.grantee <> c.relowner GROUP BY c.relname, g.name) t
         GROUP BY privileges, name
        UNION ALL
        SELECT DISTINCT format('GRANT %s ON ALL SEQUENCES IN SCHEMA %I TO %s',
                               a.privilege_type, target, g.name)
          FROM pg_class c, aclexplode(c.relacl) a, LATERAL ({grantee}) g
         WHERE c.relname = ANY({relations}) AND c.relnamespace = {source}::regnamespace
           AND c.relkind = 'S' AND a.grantee <> c.relowner
        UNION ALL
        SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %I GRANT %s ON %s TO %s',
                      d.defaclrole::regrole::text, target, a.privilege_type,
                      CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
                           WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' END, g.name)
          FROM pg_default_acl d, aclexplode(d.defaclacl) a, LATERAL ({grantee}) g
         WHERE d.defaclnamespace = {source}::regnamespace AND d.defaclobjtype IN ('r', 'S', 'f', 'T')
    LOOP
        EXECUTE grant_sql;
    END LOOP;
"""
# regrole's text is the role's name, quoted where it needs to be.
_GRANTEE = "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS name"


class UnsupportedTemplateObject(RuntimeError):
    pass


class TemplateChanged(RuntimeError):
    """The template was migrated after the clone function was generated."""


@dataclass(frozen=True)
class CloneRecipe:
    """What the template consists of, read from the catalog when the clone function is generated."""

    tables: tuple[str, ...]
    constraints: tuple[tuple[str, str, str], ...]  # (table, name, definition)
    indexes: tuple[str, ...]
    identities: dict[str, tuple[str, ...]]
    triggers: tuple[str, ...]
    sequences: tuple[str, ...]  # the identity columns'


def clone_schema(*, target: str) -> None:
    """Create schema ``target`` as a structural copy of the template plus its rows and privileges.

    Must run inside ``transaction.atomic()``, after the customer's row was inserted: the function
    copies for a registered customer only, and a failure later rolls the schema back with the row.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("clone_schema must run inside transaction.atomic()")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {CLONE_FUNCTION}(%s)", [target])
    except OperationalError as exc:
        if isinstance(exc.__cause__, errors.ObjectNotInPrerequisiteState):
            raise TemplateChanged(str(exc.__cause__)) from exc
        raise


def install_clone_function(source: str) -> None:
    """(Re)generate the clone function from the template ``source`` as it is now (owner role)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL(_FINGERPRINT).format(sql.Identifier(source)))
        fingerprint = str(cursor.fetchone()[0])
        recipe = _read_recipe(cursor, source)
        cursor.execute(_function_sql(recipe, source=source, fingerprint=fingerprint))
        cursor.execute(f"REVOKE ALL ON FUNCTION {CLONE_FUNCTION}(text) FROM PUBLIC")


def _function_sql(recipe: CloneRecipe, *, source: str, fingerprint: str) -> str:
    """The clone function's definition: the recipe's statements as ``format()`` templates whose
    only argument (``%1$I``) is the target schema; the rest is catalog output and constants."""
    src = _ident(source)
    statements = [
        f"CREATE TABLE %1$I.{_ident(table)} (LIKE {src}.{_ident(table)} INCLUDING DEFAULTS "
        "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
        for table in recipe.tables
    ]
    add = "ALTER TABLE %1$I.{table} ADD CONSTRAINT {name} {definition}"
    foreign_keys = [c for c in recipe.constraints if c[2].startswith("FOREIGN KEY")]
    statements += [
        add.format(table=_ident(table), name=_ident(name), definition=_escaped(definition))
        for table, name, definition in recipe.constraints
        if not definition.startswith("FOREIGN KEY")
    ]
    statements += [_retarget(definition, source=source) for definition in recipe.indexes]
    for table in recipe.tables:
        quoted = _ident(table)
        statements.append(f"INSERT INTO %1$I.{quoted} SELECT * FROM {src}.{quoted}")  # noqa: S608 (catalog)
        for column in recipe.identities[table]:  # no row copied: no setval (starts at 1, as the template's)
            sequence = f"pg_get_serial_sequence('%1$I.{quoted}', {_literal(column)})"
            highest = f"max({_ident(column)})"
            setval = f"SELECT setval({sequence}, {highest})"
            statements.append(f"{setval} FROM %1$I.{quoted} HAVING {highest} IS NOT NULL")
    statements += [
        add.format(table=_ident(table), name=_ident(name), definition=_escaped(definition))
        for table, name, definition in foreign_keys
    ]
    # After the rows: copying them triggers nothing.
    statements += [_retarget(definition, source=source) for definition in recipe.triggers]
    array = ",\n        ".join(_literal(statement) for statement in statements)
    relations = (
        "ARRAY[" + ", ".join(_literal(name) for name in recipe.tables + recipe.sequences) + "]::name[]"
    )
    copy_privileges = _COPY_PRIVILEGES.format(source=_literal(source), grantee=_GRANTEE, relations=relations)
    return f"""
CREATE OR REPLACE FUNCTION {CLONE_FUNCTION}(target text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $clone$
DECLARE
    statement text;
    grant_sql text;
BEGIN
    IF target IS NULL OR target !~ {_literal(SCHEMA_NAME_REGEX)} OR length(target) > {MAX_SCHEMA_NAME} THEN
        RAISE EXCEPTION 'not a customer schema name: %', target USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.tenants_customer
                    WHERE schema_name = target AND kind = 'customer') THEN
        RAISE EXCEPTION 'no customer row names schema %', target USING ERRCODE = 'invalid_schema_name';
    END IF;
    -- Held to the commit: no migration of the template (which records itself there, and which
    -- tenants.migrating starts by locking this table) lands between this check and the copy.
    LOCK TABLE {src}.django_migrations IN SHARE MODE;
    IF (SELECT count(*) || ':' || COALESCE(max(id), 0) FROM {src}.django_migrations)
       <> {_literal(fingerprint)} THEN
        RAISE EXCEPTION 'the template was migrated after the clone function was made: %',
                        'run manage.py sync_platform' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('CREATE SCHEMA %I', target);
    -- Unqualified names in the catalog's definitions are the template's own tables: the clone's now.
    PERFORM set_config('search_path', format('%I, public, pg_temp', target), true);
    FOREACH statement IN ARRAY ARRAY[
        {array}
    ]::text[] LOOP
        EXECUTE format(statement, target);
    END LOOP;
{copy_privileges}
END
$clone$"""  # noqa: S608 (catalog output and constants; the target goes through format('%I'))


def _read_recipe(cursor: CursorWrapper, source: str) -> CloneRecipe:
    cursor.execute(_UNSUPPORTED_OBJECTS, {"ns": source})
    unsupported = [row[0] for row in cursor.fetchall()]
    if unsupported:
        raise UnsupportedTemplateObject(
            f"the template schema has objects the cloner does not copy: {', '.join(unsupported)}"
        )
    cursor.execute(_TABLES, {"ns": source})
    tables = tuple(row[0] for row in cursor.fetchall())
    cursor.execute(_TRIGGERS, {"ns": source})
    triggers = tuple(row[0] for row in cursor.fetchall())
    cursor.execute(_SEQUENCES, {"ns": source})
    sequences = tuple(row[0] for row in cursor.fetchall())
    cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(source)))
    cursor.execute(_CONSTRAINTS, {"ns": source})
    constraints = tuple((row[0], row[1], row[2]) for row in cursor.fetchall())
    cursor.execute(_INDEXES, {"ns": source})
    indexes = tuple(row[0] for row in cursor.fetchall())
    identities = {table: _identity_columns(cursor, table) for table in tables}
    cursor.execute("SET LOCAL search_path TO public")
    return CloneRecipe(
        tables=tables,
        constraints=constraints,
        indexes=indexes,
        identities=identities,
        triggers=triggers,
        sequences=sequences,
    )


def _identity_columns(cursor: CursorWrapper, table: str) -> tuple[str, ...]:
    cursor.execute(_IDENTITY_COLUMNS, {"table": table})
    return tuple(row[0] for row in cursor.fetchall())


def _retarget(definition: str, *, source: str) -> str:
    """An index's or trigger's definition as a template on the target's table."""
    definition = _escaped(definition)
    # Schema names are generated (lowercase letters, digits, underscores), so never quoted.
    for keyword in (" ON ONLY ", " ON "):
        prefix = f"{keyword}{source}."
        if prefix in definition:
            return definition.replace(prefix, f"{keyword}%1$I.", 1)
    return definition  # unqualified: resolves to the target through search_path


def _escaped(text: str) -> str:
    """Catalog output inside a ``format()`` template: its own ``%`` stay literal."""
    return text.replace("%", "%%")


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def _literal(text: str) -> str:
    return sql.Literal(text).as_string(None)
