"""Multi-row inserts without the ORM's per-statement compiler: for set-based writes of many
unsaved model instances (partners/batching.py, ledger.post_transactions).

QuerySet.bulk_create compiles every value through the SQL compiler (on PostgreSQL an
UNNEST of typed arrays, a field with a database default as an expression per row), and a
multi-row INSERT … VALUES with a parameter per value makes psycopg scan the whole
statement for its placeholders: for a few dozen rows either costs more CPU than the
database takes to insert them. insert_rows prepares each value with its field's
get_db_prep_save (what the ORM stores) and writes:
- on PostgreSQL, with COPY … FROM STDIN (primary keys, when wanted, drawn first from the
  table's sequence in one query);
- on SQLite (in-process, its parameters bound in C), with INSERT … VALUES (…), (…) per 999
  parameters, RETURNING the keys when wanted.
A row that breaks a constraint fails the statement and so the caller's transaction. Not
for models with save() logic, signals or auto_now fields.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault

_SQLITE_MAX_PARAMETERS = 999
_sequences: dict[str, str] = {}
# Fields whose stored value is the Python value itself (exact classes: a subclass, like an
# encrypted text field, prepares its own); the others go through get_db_prep_save.
_AS_IS = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.IntegerField,
    models.PositiveBigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SlugField,
    models.SmallIntegerField,
    models.TextField,
    models.ForeignKey,
    models.OneToOneField,
)
# psycopg adapts these itself (SQLite stores them as text through get_db_prep_save).
_AS_IS_ON_POSTGRESQL = (models.DateTimeField, models.UUIDField)


def _preparers(fields: list[Any], vendor: str, conn: Any) -> list[Any]:
    as_is = (*_AS_IS, *(_AS_IS_ON_POSTGRESQL if vendor == "postgresql" else ()))
    preparers: list[Any] = []
    for field in fields:
        if type(field) in as_is and (
            not field.is_relation or type(field.target_field) in (*_AS_IS, models.UUIDField)
        ):
            preparers.append(None)
        else:
            preparers.append(lambda value, field=field: field.get_db_prep_save(value, conn))
    return preparers


def _values(obj: Model, fields: list[Any], preparers: list[Any]) -> list[Any]:
    values = []
    for field, prepare in zip(fields, preparers, strict=True):
        value = getattr(obj, field.attname)
        values.append(value if prepare is None else prepare(value))
    return values


def insert_rows(objs: Sequence[Model], *, returning_pk: bool = False) -> None:
    """Insert the unsaved instances (all of one model) and mark them saved; with
    returning_pk each gets its primary key. A field left at its database default
    (db_default) on the first row is left to the database."""
    if not objs:
        return
    conn = connections[DEFAULT_DB_ALIAS]  # once: each access through django.db.connection costs
    if conn.vendor == "postgresql":
        _copy(conn, objs, returning_pk=returning_pk)
    else:
        _insert(conn, objs, returning_pk=returning_pk)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = conn.alias


def _fields(obj: Model, *, with_pk: bool) -> list[Any]:
    return [
        field
        for field in obj._meta.concrete_fields
        if (with_pk or not field.primary_key or getattr(obj, field.attname) is not None)
        and not isinstance(getattr(obj, field.attname), DatabaseDefault)
    ]


def _copy(conn: Any, objs: Sequence[Model], *, returning_pk: bool) -> None:
    meta = objs[0]._meta
    quote = conn.ops.quote_name
    with conn.cursor() as cursor:
        if returning_pk:
            sequence = _sequences.get(meta.db_table)
            if sequence is None:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column]
                )
                sequence = _sequences[meta.db_table] = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, len(objs)])
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        fields = _fields(objs[0], with_pk=returning_pk)
        preparers = _preparers(fields, conn.vendor, conn)
        statement = (
            f"COPY {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
            "FROM STDIN"
        )
        started = time.monotonic()
        with cursor.cursor.copy(statement) as copy:
            for obj in objs:
                copy.write_row(_values(obj, fields, preparers))
        if conn.queries_logged:  # counted like the ORM's statements (tests, DEBUG)
            conn.queries_log.append({"sql": statement, "time": f"{time.monotonic() - started:.3f}"})


def _insert(conn: Any, objs: Sequence[Model], *, returning_pk: bool) -> None:
    meta = objs[0]._meta
    quote = conn.ops.quote_name
    fields = _fields(objs[0], with_pk=False)
    preparers = _preparers(fields, conn.vendor, conn)
    columns = ", ".join(quote(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = f" RETURNING {quote(meta.pk.column)}" if returning_pk else ""
    chunk = max(1, _SQLITE_MAX_PARAMETERS // len(fields))
    with conn.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            part = objs[start : start + chunk]
            params = [value for obj in part for value in _values(obj, fields, preparers)]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608 (names from the model)
                + ", ".join([row_sql] * len(part))
                + returning,
                params,
            )
            if returning_pk:
                for obj, row in zip(part, cursor.fetchall(), strict=True):
                    obj.pk = row[0]
