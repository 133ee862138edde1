"""Bulk writes through ONE JSON parameter (SQLite and PostgreSQL).

``bulk_create`` / ``bulk_update`` build a model instance per row and compile every value of every
instance into the statement (and split it at SQLite's bound-parameter limit). For the pipeline's large
writes — a task's call records, its lead rows, its follow-ups — that Python work cost more than the
database's. Here the rows travel as one JSON array, turned back into rows by the database
(``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite): one statement and one parameter,
whatever the size. Column names come from the models' own fields; every value is in the parameter.

Rows are plain dicts keyed by field ``attname`` (``lead_task_id``, ``call_status`` …), or model instances.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Field, Model

#: SQLite learned ``UPDATE … FROM`` in 3.33, ``RETURNING`` and ``MATERIALIZED`` in 3.35; Django accepts 3.31.
_SQLITE_OK = sqlite3.sqlite_version_info >= (3, 35, 0)


def supported() -> bool:
    """Whether the current database can take these statements (otherwise callers use the ORM's bulk methods)."""
    return connection.vendor == "postgresql" or (connection.vendor == "sqlite" and _SQLITE_OK)


def fields_of(model: type[Model], names: Iterable[str]) -> list[Field]:
    return [model._meta.get_field(name) for name in names]


def payload(rows: Iterable[dict], fields: Sequence[Field], *, with_pk: bool = False) -> str:
    """The rows' values of ``fields`` as one JSON array, keyed by column, datetimes as the database reads them."""
    sqlite = connection.vendor == "sqlite"
    adapt = connection.ops.adapt_datetimefield_value
    keys = [(field.attname, field.column) for field in fields]
    items = []
    for row in rows:
        if not isinstance(row, dict):  # a model instance: its attribute dict holds the same keys
            row = row.__dict__
        item = {"id": row["id"]} if with_pk else {}
        if sqlite:  # SQLite stores datetimes as Django writes them (naive UTC text)
            for attname, column in keys:
                value = row[attname]
                item[column] = adapt(value) if isinstance(value, dt.datetime) else value
        else:  # orjson writes datetimes as RFC 3339 with their offset, which PostgreSQL reads
            for attname, column in keys:
                item[column] = row[attname]
        items.append(item)
    return orjson.dumps(items, default=_encode_other).decode()


_django_encoder = DjangoJSONEncoder()


def _encode_other(value):
    """Types orjson does not know (Decimal, lazy translations …) as Django's JSON encoder writes them."""
    return _django_encoder.default(value)


def source(fields: Sequence[Field], *, with_pk: bool = False) -> str:
    """A ``FROM`` source named ``v`` turning the JSON array parameter back into rows of ``fields``."""
    quote = connection.ops.quote_name
    if connection.vendor == "sqlite":
        pk = "json_extract(j.value, '$.id') AS id, " if with_pk else ""
        columns = ", ".join(f"json_extract(j.value, '$.{f.column}') AS {quote(f.column)}" for f in fields)
        return f"(SELECT {pk}{columns} FROM json_each(%s) AS j) AS v"  # noqa: S608
    types = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)
    pk = "id bigint, " if with_pk else ""
    return f"jsonb_to_recordset(%s::jsonb) AS v({pk}{types})"


def insert(
    model: type[Model],
    field_names: Sequence[str],
    rows: list[dict],
    *,
    returning: Sequence[str] = (),
    conflict_target: str | None = None,
    update_fields: Sequence[str] = (),
) -> list[tuple]:
    """``INSERT INTO <model> (<fields>) SELECT … FROM <JSON rows>``, optionally ``ON CONFLICT (<target>) DO
    UPDATE SET <update_fields>`` and ``RETURNING <returning>`` (tuples in no particular order)."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = fields_of(model, field_names)
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(f"v.{quote(f.column)}" for f in fields)
    # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint of the SELECT.
    sql = f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source(fields)} WHERE true"  # noqa: S608
    if conflict_target:
        target = quote(model._meta.get_field(conflict_target).column)
        assignments = ", ".join(
            f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields_of(model, update_fields)
        )
        sql += f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"
    if returning:
        sql += " RETURNING " + ", ".join(quote(f.column) for f in fields_of(model, returning))
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload(rows, fields)])
        return [tuple(item) for item in cursor.fetchall()] if returning else []


def update(model: type[Model], field_names: Sequence[str], rows: list[dict], *, only_null: Sequence[str] = ()) -> int:
    """``UPDATE <model> SET <fields> = v.<fields> FROM <JSON rows> WHERE id = v.id``; rows carry ``id``.

    ``only_null``: compare-and-set, only rows whose these fields are still NULL are written. Returns the rows
    written.
    """
    if not rows:
        return 0
    quote = connection.ops.quote_name
    fields = fields_of(model, field_names)
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    where = " AND ".join(
        [f"{table}.{quote(model._meta.pk.column)} = v.id"]
        + [f"{table}.{quote(f.column)} IS NULL" for f in fields_of(model, only_null)]
    )
    sql = update_from_sql(table, assignments, source(fields, with_pk=True), where)
    return execute_update(sql, [payload(rows, fields, with_pk=True)])


def execute_update(sql: str, params: list) -> int:
    """Run an :func:`update_from_sql` statement and return the rows it changed.

    Python's sqlite3 reports no row count (-1) for a statement that starts with ``WITH``; there the
    statement returns one row per changed row instead.
    """
    with connection.cursor() as cursor:
        if sql.startswith("WITH "):
            cursor.execute(f"{sql} RETURNING 1", params)
            return len(cursor.fetchall())
        cursor.execute(sql, params)
        return cursor.rowcount


def update_from_sql(table: str, assignments: str, json_source: str, where: str) -> str:
    """``UPDATE <table> SET … FROM <json_source> WHERE …`` with a plan that walks the JSON rows.

    SQLite may otherwise drive the join from the table (e.g. through an index matching another condition
    of ``where``) and re-read the whole JSON array for every row of the table: quadratic, and minutes on a
    table of 20,000 rows. A ``MATERIALIZED`` common table expression (SQLite ≥ 3.35) makes it scan the JSON
    rows once and look each table row up by its primary key.
    """
    if connection.vendor == "sqlite":
        subquery = json_source.removesuffix(" AS v")
        return f"WITH v AS MATERIALIZED {subquery} UPDATE {table} SET {assignments} FROM v WHERE {where}"  # noqa: S608
    return f"UPDATE {table} SET {assignments} FROM {json_source} WHERE {where}"  # noqa: S608
