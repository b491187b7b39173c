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

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault

_SQLITE_MAX_PARAMETERS = 999
_sequences: dict[str, str] = {}


def insert_rows(objs: Sequence[Model], *, returning_pk: bool = False) -> None:
    """Insert the unsaved instances (all of one model) and mark them saved; with
    returning_pk each gets its primary key. A field left at its database default
    (db_default) on the first row is left to the database."""
    if not objs:
        return
    if connection.vendor == "postgresql":
        _copy(objs, returning_pk=returning_pk)
    else:
        _insert(objs, returning_pk=returning_pk)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _fields(obj: Model, *, with_pk: bool) -> list[Any]:
    return [
        field
        for field in obj._meta.concrete_fields
        if (with_pk or not field.primary_key or getattr(obj, field.attname) is not None)
        and not isinstance(getattr(obj, field.attname), DatabaseDefault)
    ]


def _copy(objs: Sequence[Model], *, returning_pk: bool) -> None:
    meta = objs[0]._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if returning_pk:
            sequence = _sequences.get(meta.db_table)
            if sequence is None:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
                sequence = _sequences[meta.db_table] = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, len(objs)])
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        fields = _fields(objs[0], with_pk=returning_pk)
        statement = (
            f"COPY {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
            "FROM STDIN"
        )
        started = time.monotonic()
        with cursor.cursor.copy(statement) as copy:
            for obj in objs:
                copy.write_row(
                    [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]
                )
        if connection.queries_logged:  # counted like the ORM's statements (tests, DEBUG)
            connection.queries_log.append(
                {"sql": statement, "time": f"{time.monotonic() - started:.3f}"}
            )


def _insert(objs: Sequence[Model], *, returning_pk: bool) -> None:
    meta = objs[0]._meta
    quote = connection.ops.quote_name
    fields = _fields(objs[0], with_pk=False)
    columns = ", ".join(quote(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = f" RETURNING {quote(meta.pk.column)}" if returning_pk else ""
    chunk = max(1, _SQLITE_MAX_PARAMETERS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            part = objs[start : start + chunk]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection)
                for obj in part
                for field in fields
            ]
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608 (names from the model)
                + ", ".join([row_sql] * len(part))
                + returning,
                params,
            )
            if returning_pk:
                for obj, row in zip(part, cursor.fetchall(), strict=True):
                    obj.pk = row[0]
