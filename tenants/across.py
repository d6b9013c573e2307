"""Statements over several customers' schemas at once, for background jobs.

A job that touches a row or two in each of a hundred customers (the SLA sweep) would otherwise
pay, per customer, a schema switch, the ORM building the same statement again and one round trip
per statement. These helpers name each schema in the SQL instead (schema-qualified tables, so the
connection's ``search_path`` does not matter) and join the customers' parts into one statement:
one ``WITH`` part per schema. The rows travel as one array per column (``unnest``), so the
number of parameters does not grow with the rows or the schemas.

They are for rows a job already knows by id, and for rare checks across every customer
(``first_match``). This is the only module that writes SQL naming several schemas; every
identifier comes from model metadata through ``psycopg.sql``. Keep the schemas per statement
bounded where it can be (the sweep does): every schema adds its relations to the transaction's
locks (``max_locks_per_transaction``) and its part to the planning time. Request-time reads
across customers come from the public index, never from here (performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from psycopg import sql

M = TypeVar("M", bound=Model)
PART = "across_part"  # which schema a row belongs to: its index in the statement
ID = "across_id"

if TYPE_CHECKING:
    Value = Callable[[Model, Field[Any, Any]], Any]  # a row's value of a field, as it is saved


def rows_lock(model: type[M], wanted: Mapping[str, Collection[int]]) -> list[tuple[str, M]]:
    """Lock (``FOR UPDATE``) and load the rows of ``model`` with the given ids in each schema,
    in one statement; returns ``(schema, row)`` pairs, in schema order and by id within one."""
    schemas = [schema for schema, ids in wanted.items() if ids]
    if not schemas:
        return []
    db = _db()
    pk = _pk(model)
    part = _template(
        sql.SQL(
            "SELECT {index} AS {part}, {columns} FROM {table} "
            "WHERE {pk} = ANY({ids}) ORDER BY {pk} FOR UPDATE"
        ),
        db,
        part=sql.Identifier(PART),
        columns=_names(model._meta.concrete_fields),
        pk=sql.Identifier(pk.column),
        ids=_array(pk, db),
    )
    parts = [
        part.format(index=sql.Literal(index), table=_table(schema, model))
        for index, schema in enumerate(schemas)
    ]
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT * FROM {}").format(_label(index)) for index in range(len(parts))
    )
    statement = sql.SQL("WITH {parts} {union} ORDER BY {part}, {pk}").format(
        parts=_with(parts), union=union, part=sql.Identifier(PART), pk=sql.Identifier(pk.column)
    )
    params = [sorted(wanted[schema]) for schema in schemas]
    # A raw queryset turns the columns into model instances with the fields' own converters.
    found = model._default_manager.raw(_text(statement, db), params)
    return [(schemas[getattr(row, PART)], row) for row in found]


def rows_update(model: type[Model], rows: Mapping[str, Sequence[Model]], fields: Sequence[str]) -> int:
    """Write ``fields`` of the given rows (already changed in memory) back to their schemas, in
    one statement; returns the rows written. Like ``QuerySet.update``, no signals are sent."""
    pk = _pk(model)
    targets = [_concrete(model, name) for name in fields]
    db = _db()
    part = _template(
        sql.SQL(
            "UPDATE {table} AS target SET {assignments} FROM source "
            "WHERE source.{part} = {index} AND target.{pk} = source.{id} RETURNING 1"
        ),
        db,
        assignments=sql.SQL(", ").join(
            sql.SQL("{column} = source.{column}").format(column=sql.Identifier(field.column))
            for field in targets
        ),
        part=sql.Identifier(PART),
        pk=sql.Identifier(pk.column),
        id=sql.Identifier(ID),
    )
    return _write(model, rows, part, [pk, *targets], db, lambda obj, field: getattr(obj, field.attname))


def rows_insert(model: type[Model], rows: Mapping[str, Sequence[Model]]) -> int:
    """Insert new rows of ``model`` into their schemas in one statement (defaults and
    ``auto_now`` filled as ``save`` would; ids are left to the database and not read back)."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    db = _db()
    part = _template(
        sql.SQL(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM source WHERE {part} = {index} RETURNING 1"
        ),
        db,
        columns=_names(fields),
        part=sql.Identifier(PART),
    )
    return _write(model, rows, part, fields, db, lambda obj, field: field.pre_save(obj, True))


def _write(
    model: type[Model],
    rows: Mapping[str, Sequence[Model]],
    part: sql.SQL,
    fields: Sequence[Field[Any, Any]],
    db: BaseDatabaseWrapper,
    value: Value,
) -> int:
    """Run one data-changing ``part`` per schema over a shared ``source`` of the rows (their
    schema's index, then ``fields``, as prepared by ``save``); returns the rows changed."""
    schemas = [schema for schema, objects in rows.items() if objects]
    if not schemas:
        return 0
    # the source's first column is the part; an update's second (its target's key) is named ID
    names = [PART, *(ID if field.primary_key else field.column for field in fields)]
    arrays = sql.SQL(", ").join([sql.SQL("%s::integer[]"), *(_array(field, db) for field in fields)])
    source = sql.SQL("source AS (SELECT * FROM unnest({arrays}) AS unnested({names}))").format(
        arrays=arrays, names=sql.SQL(", ").join(sql.Identifier(name) for name in names)
    )
    parts = [
        part.format(index=sql.Literal(index), table=_table(schema, model))
        for index, schema in enumerate(schemas)
    ]
    counts = sql.SQL(" + ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(_label(index)) for index in range(len(parts))
    )
    statement = sql.SQL("WITH {source}, {parts} SELECT {counts}").format(
        source=source, parts=_with(parts), counts=counts
    )
    params: list[list[Any]] = [[index for index, schema in enumerate(schemas) for _ in rows[schema]]]
    params += [
        [field.get_db_prep_save(value(obj, field), db) for schema in schemas for obj in rows[schema]]
        for field in fields
    ]
    with db.cursor() as cursor:
        cursor.execute(_text(statement, db), params)
        return int(cursor.fetchone()[0])


def first_match(probes: Sequence[tuple[str, type[Model], str]], value: Any) -> int | None:
    """Which of ``probes`` (schema, model, field) first has a row whose ``field`` equals
    ``value``: its index, or None. One statement: a ``UNION ALL`` of one indexed ``LIMIT 1``
    probe per (schema, column), stopped at the first hit. For rare checks across every customer
    (is a public row still referred to from some schema?)."""
    if not probes:
        return None
    db = _db()
    parts = [
        sql.SQL("(SELECT {index} FROM {table} WHERE {column} = %s LIMIT 1)").format(
            index=sql.Literal(index),
            table=_table(schema, model),
            column=sql.Identifier(_concrete(model, name).column),
        )
        for index, (schema, model, name) in enumerate(probes)
    ]
    statement = sql.SQL("{} LIMIT 1").format(sql.SQL(" UNION ALL ").join(parts))
    with db.cursor() as cursor:
        cursor.execute(_text(statement, db), [value] * len(parts))
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _template(statement: sql.SQL, db: BaseDatabaseWrapper, **constant: sql.Composable) -> sql.SQL:
    """``statement`` with its constant pieces rendered once; ``{table}``, ``{index}`` (and any
    other name not given) stay to be filled per schema. Building each part from scratch would
    quote every column again, for every schema."""
    keep = {name: sql.SQL("{" + name + "}") for name in ("table", "index")}
    return sql.SQL(_text(statement.format(**(keep | constant)), db))


def _array(field: Field[Any, Any], db: BaseDatabaseWrapper) -> sql.Composed:
    """A parameter holding an array of ``field``'s values, cast to the column's type."""
    return sql.SQL("%s::{}[]").format(sql.SQL(str(field.db_type(db))))


def _with(parts: list[sql.Composed]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{label} AS ({part})").format(label=_label(index), part=part)
        for index, part in enumerate(parts)
    )


def _label(index: int) -> sql.Identifier:
    return sql.Identifier(f"part{index}")


def _names(fields: Sequence[Field[Any, Any]]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(field.column) for field in fields)


def _table(schema: str, model: type[Model]) -> sql.Identifier:
    return sql.Identifier(schema, model._meta.db_table)


def _db() -> BaseDatabaseWrapper:
    """The connection itself (``django.db.connection`` is a proxy that looks it up on every use)."""
    return connections[DEFAULT_DB_ALIAS]


def _text(statement: sql.Composable, db: BaseDatabaseWrapper) -> str:
    db.ensure_connection()
    return statement.as_string(db.connection)


def _pk(model: type[Model]) -> Field[Any, Any]:
    pk = model._meta.pk
    if pk is None:
        raise TypeError(f"{model.__name__} has no primary key")
    return pk


def _concrete(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete:
        raise TypeError(f"{name} is not a column of {model.__name__}")
    return field
