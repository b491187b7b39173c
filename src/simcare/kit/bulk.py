"""Multi-row INSERTs without the ORM's per-statement compiler: for set-based writes of many
unsaved model instances (partners/batching.py, ledger.post_transactions).

QuerySet.bulk_create compiles every value through the SQL compiler (on PostgreSQL an
UNNEST of typed arrays, a field with a database default as an expression per row): for a
few dozen small rows that is milliseconds of CPU a statement, more than the database takes
to insert them. insert_rows prepares each value with its field's get_db_prep_save (what
the ORM stores) and sends one INSERT … VALUES (…), (…) per table (per 999 parameters on
SQLite). Models with save() logic, signals or auto_now fields are not for this helper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault

_SQLITE_MAX_PARAMETERS = 999


def insert_rows(
    objs: Sequence[Model], *, returning_pk: bool = False, ignore_conflicts: bool = False
) -> None:
    """Insert the unsaved instances (all of one model) and mark them saved; with
    returning_pk each gets the primary key the database gave it (RETURNING: PostgreSQL,
    SQLite ≥ 3.35); with ignore_conflicts a row that would break a unique constraint is
    skipped (ON CONFLICT DO NOTHING). A field left at a database default (db_default) is
    left to the database when it is so on the first row."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    first = objs[0]
    fields = [
        field
        for field in meta.concrete_fields
        if not (field.primary_key and getattr(first, field.attname) is None)
        and not isinstance(getattr(first, field.attname), DatabaseDefault)
    ]
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if returning_pk:
        returning += " RETURNING " + connection.ops.quote_name(meta.pk.column)
    chunk = len(objs)
    if connection.vendor == "sqlite":
        chunk = max(1, _SQLITE_MAX_PARAMETERS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), chunk):
            part = objs[start : start + chunk]
            params: list[Any] = []
            for obj in part:
                for field in fields:
                    params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 (names from the model)
                + ", ".join([row_sql] * len(part))
                + returning,
                params,
            )
            if returning_pk:
                for obj, row in zip(part, cursor.fetchall(), strict=True):
                    obj.pk = row[0]
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
