"""Querysets compiled to SQL once: for the few queries that every page view runs.

Building a queryset and compiling it to SQL costs Django more than running it: for the
dashboard's lines with their plans, 0.5 ms of the 0.9 ms the query takes in all (SQLite, this
project's benchmark machine). A `Prepared` query is built and compiled once per database
connection (so per request thread) with stand-in values; each call puts its own values into
the compiled statement's parameters and turns the rows into model instances (with their
select_related objects) or values exactly as the queryset would, through the same compiler.

    def lines_of(subscriber_id: int) -> QuerySet[Line]:
        return Line.objects.filter(subscriber_id=subscriber_id).select_related("plan")

    LINES_OF: Prepared[Line] = Prepared(lines_of, subscriber_id=int)
    LINES_OF(subscriber_id=7)  # a list of Line

Arguments are whole numbers, text, aware datetimes, or lists of whole numbers (one compiled
statement per list length, up to MAX_LIST). The stand-in values are out of any real range,
and compiling checks that each of them lands in the statement's parameters, so a query that
does not use an argument, or changes it on the way (a lookup that transforms its value), is
refused when it is first run rather than answering with the stand-in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)
from django.db.models.sql.compiler import SQLCompiler

T = TypeVar("T")

ITERABLES = (ModelIterable, ValuesListIterable, FlatValuesListIterable)
MAX_LIST = 20  # longer lists run through the queryset itself

# Stand-in values: negative ids, and instants in 1901 with distinct microseconds.
_STAND_IN_ID = -7_300_000_000
_STAND_IN_TIME = dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=dt.UTC)

Kind = type[int] | type[str] | type[dt.datetime] | type[list[int]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str, int | None], ...]  # (position, argument, list index or None)
    compiler: SQLCompiler
    converters: dict[int, Any]  # the compiler's, worked out once: position -> converters
    iterable: type


class Prepared(Generic[T]):
    def __init__(self, build: Callable[..., QuerySet[Any]], **kinds: Kind) -> None:
        self._build = build
        self._kinds = kinds
        self._compiled: weakref.WeakKeyDictionary[
            BaseDatabaseWrapper, dict[tuple[int, ...], _Compiled]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[T]:
        if set(values) != set(self._kinds):
            raise TypeError(f"expected the arguments {sorted(self._kinds)}, got {sorted(values)}")
        shape = tuple(len(values[name]) for name in self._kinds if self._kinds[name] is list)
        if any(length > MAX_LIST for length in shape):
            return list(self._build(**values).using(using))
        connection = connections[using]
        compiled = self._compiled_for(connection, shape)
        params = list(compiled.params)
        for position, name, index in compiled.slots:
            value = values[name] if index is None else values[name][index]
            params[position] = _adapt(connection, value, self._kinds[name])
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return _materialize(compiled, rows, using)

    def _compiled_for(self, connection: BaseDatabaseWrapper, shape: tuple[int, ...]) -> _Compiled:
        by_shape = self._compiled.get(connection)
        if by_shape is not None and shape in by_shape:
            return by_shape[shape]
        with self._lock:
            compiled = self._compile(connection, shape)
            self._compiled.setdefault(connection, {})[shape] = compiled
        return compiled

    def _compile(self, connection: BaseDatabaseWrapper, shape: tuple[int, ...]) -> _Compiled:
        counter = itertools.count()
        lengths = iter(shape)
        stand_ins: dict[str, Any] = {}
        for name, kind in self._kinds.items():
            if kind is list:
                stand_ins[name] = [_STAND_IN_ID - next(counter) for _ in range(next(lengths))]
            elif kind is dt.datetime:
                stand_ins[name] = _STAND_IN_TIME + dt.timedelta(microseconds=next(counter) + 1)
            elif kind is int:
                stand_ins[name] = _STAND_IN_ID - next(counter)
            elif kind is str:
                stand_ins[name] = f"\x00simcare stand-in {next(counter)}"
            else:
                raise TypeError(f"{name}: arguments are int, str, datetime or list (of int)")
        queryset = self._build(**stand_ins)
        if queryset._iterable_class not in (
            ModelIterable,
            ValuesListIterable,
            FlatValuesListIterable,
        ):
            raise TypeError("a prepared query gives models or values_list() rows")
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots: list[tuple[int, str, int | None]] = []
        for name, stand_in in stand_ins.items():
            wanted = (
                [(None, stand_in)] if not isinstance(stand_in, list) else list(enumerate(stand_in))
            )
            for index, value in wanted:
                adapted = _adapt(connection, value, self._kinds[name])
                positions = [i for i, param in enumerate(params) if param == adapted]
                if not positions:
                    raise ValueError(f"the prepared query does not use its argument {name!r}")
                slots.extend((position, name, index) for position in positions)
        columns = [column[0] for column in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise TypeError("a prepared query reads no composite primary keys")
        return _Compiled(
            sql,
            tuple(params),
            tuple(slots),
            compiler,
            compiler.get_converters(columns),
            queryset._iterable_class,
        )


def _adapt(connection: BaseDatabaseWrapper, value: Any, kind: type) -> Any:
    """`value` as the compiled statement's parameter, for an argument of `kind` (a list's
    items are whole numbers)."""
    if kind is dt.datetime and isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a prepared query takes aware datetimes")
        return connection.ops.adapt_datetimefield_value(value)
    if kind is str and isinstance(value, str):
        return value
    if kind in (int, list) and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"a prepared query's {kind.__name__} argument got a {type(value).__name__}")


def _materialize(compiled: _Compiled, rows: list[Any], db: str) -> list[Any]:
    compiler = compiled.compiler
    converted = (
        compiler.apply_converters(rows, compiled.converters) if compiled.converters else rows
    )
    if compiled.iterable is FlatValuesListIterable:
        return [row[0] for row in converted]
    if compiled.iterable is ValuesListIterable:
        return [tuple(row) for row in converted]
    select, klass_info = compiler.select, compiler.klass_info
    assert klass_info is not None  # noqa: S101 (a model query)
    model: type[Model] = klass_info["model"]
    fields = klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    # (django-stubs describe the next Django, whose populators also take a fetch mode)
    populators = get_related_populators(klass_info, select, db)  # type: ignore[call-arg]
    annotations = compiler.annotation_col_map
    objects = []
    for row in converted:
        obj = model.from_db(db, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in (annotations or {}).items():
            setattr(obj, name, row[position])
        objects.append(obj)
    return objects
