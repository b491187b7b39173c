"""The CDR import: parse, dedupe, rate and persist usage in set-based batches (30-usage.md).

`import_cdrs(source, file_name=...)` reads a CSV (gzip detected by its magic
bytes). A batch of `batch_size` lines (2,000,000) is one database
transaction, read in frames of `frame_size` lines (250,000). Parsing and row
checks are vectorized (polars); so is rating (`vectorized.rate_frame`: buckets
and the wallet as per-line and per-wallet running sums), proven against the
reference `rating.rate_record` by property tests. Per frame:

1. (first frame of a batch) take the import lock (PostgreSQL advisory lock;
   on SQLite the first statement is a write, which takes the database's
   write lock), so two imports of the same file at once rate each record
   once;
2. drop the rows whose record_id is already stored or repeated in the
   frame (earlier frames and batches are already stored): a re-import
   changes nothing;
3. find the frame's lines (cached across the import), lock the wallets not
   met yet in the batch (primary-key order), and rate the frame (each
   wallet's records in started_at order) against the buckets and balances
   held in memory;
4. hand the rated records to the writer thread (`_RecordWriter`), which writes
   them on the batch's connection, so in its transaction — COPY of polars-rendered
   CSV (PostgreSQL), one executemany of 100-row INSERTs over the zipped columns
   (SQLite) — while this thread rates the next frame, which a reader thread
   (`_Reader.prefetch`) has read and checked meanwhile. A batch's first frame is
   rated and written in two parts (a quarter, then the rest), so the writer
   starts sooner. The two never use the connection
   at once: a frame's database work (steps 1 to 3) waits for the write before it,
   and its own records go to the writer only after the next frame's steps 1 to 3
   (whose dedupe counts the rated, unwritten records as stored).

At the end of the batch, once for all its frames (`_Batch.flush`): one ledger
transaction (each wallet -its charges, revenue:usage +the sum); bucket usage
by one UPDATE … FROM (VALUES …); debt and barring on the lines by one UPDATE;
the daily rollups by INSERT … ON CONFLICT DO UPDATE; threshold and barring
notifications into the outbox (dedupe keys make them once per bucket and per
barring) — on PostgreSQL those four in one pipeline; then the data auto-top-ups
of the lines that chose one. A killed import loses only the batch it was in;
running the file again completes it.

A bad row never stops the file: it is reported through `on_reject` with its
row number (its line in the file, header = 1; a record is one line, as
switches write them) and skipped. A file whose header is not the contract's
is refused whole (CdrFileRefused); a file that stops being readable part-way
(a truncated gzip) refuses the rest of it: the frames before stay applied,
and a re-import of the fixed file only adds what is missing.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import gzip
import io
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import IO, Any, cast

import polars as pl
import psycopg
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from simcare.catalog.models import Plan
from simcare.kit.time import business_zone
from simcare.ledger import services as ledger
from simcare.ledger.models import AccountKind, LedgerAccount, TransactionKind
from simcare.lines import lifecycle
from simcare.lines.models import LineState
from simcare.usage import notifications, rating, vectorized
from simcare.usage.errors import CdrFileRefused
from simcare.usage.models import CdrImport, ImportStatus

COLUMNS: tuple[str, ...] = (
    "record_id",
    "msisdn",
    "type",
    "started_at",
    "quantity",
    "zone",
    "direction",
)
DEFAULT_BATCH_SIZE = 2_000_000  # rows per database transaction
DEFAULT_FRAME_SIZE = 250_000  # rows parsed, rated and written at a time
REVENUE_ACCOUNT = "revenue:usage"
REJECTS_KEPT = 20
_LOCK_KEY = 0x5C0BCDF1  # pg_advisory_xact_lock key of the usage import
_LOOKUP_CHUNK = 5_000
_SYNTHETIC_HEADER = b",".join(f"c{index}".encode() for index in range(len(COLUMNS) + 1)) + b"\n"
_RECORD_COLUMNS = (
    "record_id",
    "cdr_import_id",
    "line_id",
    "kind",
    "zone",
    "direction",
    "started_at",
    "quantity",
    "units",
    "bucket_units",
    "overage_units",
    "free_units",
    "rejected_units",
    "charged_cents",
    "debt_cents",
    "outcome",
)
_DAILY_PARTS = 16  # rollup parts a batch keeps before it merges them
# A batch's first frame of at least this many records is rated and written in two parts (a
# quarter, then the rest), so that the writer starts sooner.
_HEAD_MIN = 4_000


@dataclass(frozen=True)
class RejectedRow:
    """One bad row: its line number in the file (header = 1), why, and its fields as read."""

    row_number: int
    reason: str
    raw: tuple[str, ...]


@dataclass
class ImportReport:
    """What one import did. Duplicates are records imported before: counted, left unchanged."""

    file_name: str
    cdr_import_id: int
    columns: tuple[str, ...] = COLUMNS
    rows_read: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    charged_cents: int = 0
    debt_cents: int = 0
    seconds: float = 0.0
    first_rejects: list[RejectedRow] = field(default_factory=list)
    # Seconds spent per stage (parse, dedupe, load, rate, records, rest): the benchmark prints them.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # The same stages in CPU seconds of this process (all threads): steadier on a busy machine.
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)


Progress = Callable[[int], None]


# --- reading the file -----------------------------------------------------------------------


def _binary_stream(source: IO[bytes]) -> IO[bytes]:
    buffered: IO[bytes] = (
        source if hasattr(source, "peek") else io.BufferedReader(cast("io.RawIOBase", source))
    )
    head = buffered.peek(2)[:2]  # type: ignore[attr-defined]
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def _header_order(binary: IO[bytes]) -> list[int]:
    """Read the header line; returns, for each contract column, its position in the file."""
    first = binary.readline()
    if not first.strip():
        raise CdrFileRefused(gettext("The file is empty: its first line must be a header."))
    try:
        text = first.decode("utf-8-sig")
        header = next(csv.reader([text]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise CdrFileRefused(
            gettext("This is not a CSV file: the first line must be the header %(expected)s.")
            % {"expected": ",".join(COLUMNS)}
        ) from None
    names = [name.strip().lower() for name in header]
    if sorted(names) != sorted(COLUMNS):
        found = ",".join(header)
        raise CdrFileRefused(
            gettext("The first line must be the header %(expected)s; found %(found)s.")
            % {"expected": ",".join(COLUMNS), "found": (found[:80] or '""')}
        )
    return [names.index(name) for name in COLUMNS]


def _frame(lines: list[bytes], order: list[int]) -> pl.DataFrame:
    """The lines as a frame of strings: the contract's columns, `extra` (a field too many), `i`."""
    data = b"".join(lines)
    if not data.endswith(b"\n"):
        data += b"\n"
    frame: pl.DataFrame | None = None
    try:
        frame = pl.read_csv(
            _SYNTHETIC_HEADER + data,
            has_header=True,
            infer_schema=False,
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
            row_index_name="i",
        )
    except pl.exceptions.PolarsError:
        frame = None
    if frame is None or frame.height != len(lines):
        # An unbalanced quote made one row of several lines: read line by line instead.
        frame = _frame_line_by_line(lines)
    renames = {f"c{position}": name for name, position in zip(COLUMNS, order, strict=True)}
    renames[f"c{len(COLUMNS)}"] = "extra"
    return frame.rename(renames)


def _frame_line_by_line(lines: list[bytes]) -> pl.DataFrame:
    width = len(COLUMNS) + 1
    columns: list[list[str | None]] = [[] for _ in range(width)]
    for line in lines:
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        fields: list[str | None] = list(next(csv.reader([text]), [])) if text else []
        fields = [value if value != "" else None for value in fields[:width]]
        fields += [None] * (width - len(fields))
        for column, value in zip(columns, fields, strict=True):
            column.append(value)
    frame = pl.DataFrame(
        {f"c{index}": column for index, column in enumerate(columns)},
        schema={f"c{index}": pl.String for index in range(width)},
    )
    return frame.with_row_index("i")


# --- checking rows (vectorized) ---------------------------------------------------------------


def _valid_utf8(lines: list[bytes]) -> bool:
    """Whether the lines are UTF-8 without U+FFFD: then no field read from them holds the
    replacement character that marks a row's invalid bytes (one pass over the bytes instead
    of one per column)."""
    data = b"".join(lines)
    if b"\xef\xbf\xbd" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _checked(frame: pl.DataFrame, first_line: int, *, utf8: bool = False) -> pl.DataFrame:
    """Adds `row` (line number), `reason` (null when good), `started` (UTC) and `ts` (micros).
    `utf8`: the lines are known to be valid UTF-8 (`_valid_utf8`)."""
    col = pl.col
    blank = pl.all_horizontal([col(name).is_null() for name in (*COLUMNS, "extra")])
    started = col("started_at").str.to_datetime("%+", strict=False, time_unit="us", time_zone="UTC")
    direction_ok = col("direction").is_in([rating.OUT, rating.IN]) | (
        col("direction").is_null() & (col("type") == rating.DATA)
    )
    reason = (
        pl.when(col("extra").is_not_null())
        .then(
            pl.lit(
                gettext("Expected %(expected)d columns (%(names)s), found more.")
                % {"expected": len(COLUMNS), "names": ",".join(COLUMNS)}
            )
        )
        .when(
            pl.lit(False)
            if utf8
            else pl.any_horizontal(
                [col(name).str.contains("\ufffd", literal=True) for name in COLUMNS]
            )
        )
        .then(pl.lit(gettext("This row is not valid UTF-8 text.")))
        .when(col("record_id").is_null() | (col("record_id").str.len_chars() > 100))
        .then(pl.lit(gettext("record_id must be 1 to 100 characters.")))
        .when(~col("msisdn").str.contains(r"^\+[1-9][0-9]{6,14}$").fill_null(False))
        .then(pl.lit(gettext("msisdn must be an E.164 number such as +14165550142.")))
        .when(~col("type").is_in(list(rating.KINDS)).fill_null(False))
        .then(pl.lit(gettext("type must be data, voice or sms.")))
        .when(col("quantity").str.contains(r"^-[0-9]+$").fill_null(False))
        .then(pl.lit(gettext("quantity must not be negative.")))
        .when(~col("quantity").str.contains(r"^[0-9]{1,15}$").fill_null(False))
        .then(pl.lit(gettext("quantity must be a whole number of bytes, seconds or messages.")))
        .when(started.is_null())
        .then(pl.lit(gettext("started_at must be an ISO 8601 time with an offset.")))
        .when(~col("zone").is_in(list(rating.ZONES)).fill_null(False))
        .then(pl.lit(gettext("zone must be CA, US or INTL.")))
        .when(~direction_ok.fill_null(False))
        .then(pl.lit(gettext("direction must be out or in.")))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return (
        frame.filter(~blank)
        .with_columns(
            row=(col("i") + first_line).cast(pl.Int64),
            reason=reason,
            started=started,
        )
        .with_columns(ts=col("started").dt.epoch("us"))
    )


def _rejects(bad: pl.DataFrame) -> list[RejectedRow]:
    rows = bad.select("row", "reason", *COLUMNS).fill_null("").iter_rows()
    return [RejectedRow(row[0], row[1], tuple(row[2:])) for row in rows]


# --- loading what a batch rates against -------------------------------------------------------


@dataclass
class _LineInfo:
    subscriber_id: int
    user_id: int
    language: str
    account: rating.Account


def _chunks(values: list[Any], size: int = _LOOKUP_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _micros_sql(column: str) -> str:
    """SQL: a datetime column as whole microseconds since 1970 UTC (exact on both databases)."""
    if connection.vendor == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    # SQLite keeps naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return (
        f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000 + "
        f"CASE WHEN length({column}) > 20 "
        f"THEN CAST(substr({column} || '000000', 21, 6) AS INTEGER) ELSE 0 END)"
    )


@contextmanager
def _cursor() -> Iterator[Any]:
    """A cursor for the batch's big statements. On PostgreSQL one with server-side binding:
    arrays of 250,000 values go as binary parameters instead of being quoted into the SQL
    text by Django's client-side cursor (several times faster on both ends)."""
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            yield cursor
    else:
        with connection.cursor() as cursor:
            yield cursor


@contextmanager
def _pipeline() -> Iterator[None]:
    """PostgreSQL: the statements of the block in one pipeline (psycopg's pipeline mode: each is
    sent without waiting for the one before; errors raise at the block's end). SQLite: as is."""
    if connection.vendor == "postgresql":
        with connection.connection.pipeline():
            yield
    else:
        yield


def _in_list(values: list[Any]) -> tuple[str, list[Any]]:
    if connection.vendor == "postgresql":
        return "= ANY(%b)", [values]
    return "IN (SELECT value FROM json_each(%s))", [json.dumps(values)]


def _plan_rates(plan: Plan) -> rating.Rates:
    return rating.Rates(
        cents={
            (rating.DATA, rating.CA): plan.overage_data_cents_per_mb,
            (rating.VOICE, rating.CA): plan.overage_voice_cents_per_minute,
            (rating.SMS, rating.CA): plan.overage_sms_cents,
            (rating.DATA, rating.US): plan.us_data_cents_per_mb,
            (rating.VOICE, rating.US): plan.us_voice_cents_per_minute,
            (rating.SMS, rating.US): plan.us_sms_cents,
            (rating.DATA, rating.INTL): plan.intl_data_cents_per_mb,
            (rating.VOICE, rating.INTL): plan.intl_voice_cents_per_minute,
            (rating.SMS, rating.INTL): plan.intl_sms_cents,
        },
        includes_us=plan.includes_us,
    )


def _load_lines(
    msisdns: list[str], earliest: int, rates: dict[int, rating.Rates]
) -> dict[str, _LineInfo]:
    """The live lines of these numbers with the buckets still valid at `earliest` (micros)."""
    config = lifecycle.current_config()
    grace = config.grace // rating.MICROSECOND
    suspension = config.suspension // rating.MICROSECOND
    found: dict[str, _LineInfo] = {}
    by_id: dict[int, rating.Account] = {}
    with _cursor() as cursor:
        for chunk in _chunks(msisdns):
            condition, params = _in_list(chunk)
            cursor.execute(
                f"""
                SELECT l.id, l.msisdn, l.subscriber_id, s.user_id, u.language, l.plan_id,
                       {_micros_sql("l.activated_at")}, {_micros_sql("l.period_end")},
                       l.is_barred
                FROM lines_line l
                JOIN accounts_subscriber s ON s.id = l.subscriber_id
                JOIN accounts_user u ON u.id = s.user_id
                WHERE l.state <> %s AND l.msisdn {condition}
                """,  # noqa: S608
                [LineState.RECYCLED, *params],
            )
            for row in cursor.fetchall():
                line_id, msisdn, subscriber_id, user_id, language, plan_id = row[:6]
                activated, end, barred = row[6], row[7], bool(row[8])
                if plan_id not in rates:
                    rates[plan_id] = _plan_rates(Plan.objects.get(pk=plan_id))
                account = rating.Account(
                    line_id=line_id,
                    rates=rates[plan_id],
                    activated_at=activated,
                    period_end=end,
                    grace_ends_at=end + grace,
                    suspension_ends_at=end + grace + suspension,
                    buckets=[],
                    is_barred=barred,
                )
                found[msisdn] = _LineInfo(subscriber_id, user_id, language, account)
                by_id[line_id] = account
        earliest_at = rating.EPOCH + earliest * rating.MICROSECOND
        for chunk in _chunks(sorted(by_id)):
            condition, params = _in_list(chunk)
            cursor.execute(
                f"""
                SELECT id, line_id, kind, zone, source, total, used,
                       {_micros_sql("starts_at")}, {_micros_sql("expires_at")}
                FROM lines_bucket WHERE expires_at > %s AND line_id {condition}
                """,  # noqa: S608
                [connection.ops.adapt_datetimefield_value(earliest_at), *params],
            )
            for (
                bucket_id,
                line_id,
                kind,
                zone,
                source,
                total,
                used,
                starts,
                expires,
            ) in cursor.fetchall():
                by_id[line_id].buckets.append(
                    rating.Bucket(bucket_id, kind, zone, source, total, used, starts, expires)
                )
    for account in by_id.values():
        account.buckets = rating.consumption_order(account.buckets)
    return found


class _LineCache:
    """The lines one import has met, kept across its frames and batches.

    Bucket usage moves only through imports, which run one at a time (the
    import lock); a batch keeps its bucket usage in these objects and writes
    the deltas when it flushes, so the cache stays exact for usage. What other
    services change meanwhile (a renewal, an add-on bought) is seen by the
    next import; wallets are read afresh, and locked, in every batch. A frame
    older than what the cache was loaded for reloads it (after a flush), so a
    late record still sees the buckets valid at its time; a batch that finds
    another import ran since the cache was loaded drops it (`clear`).
    """

    def __init__(self) -> None:
        self.lines: dict[str, _LineInfo] = {}
        self.unknown: set[str] = set()
        self.loaded_from: int | None = None
        # The newest stored record when this import's last batch ended: another import's
        # records after it mean it ran in between and may have moved the buckets held here.
        self.last_record_id: int | None = None
        self.rates: dict[int, rating.Rates] = {}

    def needs_reload(self, earliest: int) -> bool:
        return self.loaded_from is not None and earliest < self.loaded_from

    def clear(self) -> None:
        self.lines.clear()
        self.unknown.clear()
        self.loaded_from = None

    def forget(self, line_ids: list[int]) -> None:
        """Drop these lines: the next frame that meets them loads them again (a new bucket)."""
        if not line_ids:
            return
        dropped = set(line_ids)
        for msisdn in [m for m, info in self.lines.items() if info.account.line_id in dropped]:
            del self.lines[msisdn]

    def get(self, msisdns: list[str], earliest: int) -> dict[str, _LineInfo]:
        if self.loaded_from is None or earliest < self.loaded_from:
            self.clear()
            self.loaded_from = earliest
        missing = [m for m in msisdns if m not in self.lines and m not in self.unknown]
        if missing:
            found = _load_lines(missing, self.loaded_from, self.rates)
            self.lines.update(found)
            self.unknown.update(m for m in missing if m not in found)
        return {m: self.lines[m] for m in msisdns if m in self.lines}


def _last_record_id() -> int:
    """The newest stored record's id (the primary key's end: one index step)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(id) FROM usage_usagerecord")
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


def _lock_wallets(subscriber_ids: list[int]) -> dict[int, LedgerAccount]:
    wallets: dict[int, LedgerAccount] = {}
    for chunk in _chunks(sorted(subscriber_ids)):
        for account in (
            LedgerAccount.objects.select_for_update()
            .filter(kind=AccountKind.WALLET, subscriber_id__in=chunk)
            .order_by("pk")
        ):
            if account.subscriber_id is not None:
                wallets[account.subscriber_id] = account
    return wallets


_BYTEWISE_COLLATIONS = frozenset({"c", "posix", "c.utf8", "c.utf-8", "ucs_basic", "pg_c_utf8"})


def _orders_bytewise() -> bool:
    """Whether the database orders record_id by bytes, as polars does (SQLite: always; PostgreSQL:
    a C / POSIX / C.UTF-8 collation — code-point order is byte order in UTF-8). Asked once per
    connection."""
    if connection.vendor != "postgresql":
        return True
    raw = connection.connection
    cached = getattr(raw, "_simcare_bytewise", None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT CASE WHEN c.collname = 'default' THEN d.datcollate ELSE c.collname END
                FROM pg_attribute a
                JOIN pg_collation c ON c.oid = a.attcollation
                JOIN pg_database d ON d.datname = current_database()
                WHERE a.attrelid = 'usage_usagerecord'::regclass AND a.attname = 'record_id'
                """
            )
            row = cursor.fetchone()
        cached = bool(row) and str(row[0]).lower() in _BYTEWISE_COLLATIONS
        raw._simcare_bytewise = cached
    return bool(cached)


def _any_stored_in_range(record_ids: pl.Series) -> bool:
    """Whether any stored record_id sorts between the frame's lowest and highest.

    When none does (a new file of ascending ids, the usual case), the frame needs no
    lookup of its ids one by one. Polars orders text by bytes; when the database
    orders it otherwise (a PostgreSQL linguistic collation), it takes the bounds itself.
    """
    with _cursor() as cursor:
        if _orders_bytewise():
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM usage_usagerecord "
                "WHERE record_id >= %s AND record_id <= %s)",
                [record_ids.min(), record_ids.max()],
            )
        else:
            cursor.execute(
                """
                SELECT EXISTS (
                    SELECT 1 FROM usage_usagerecord r,
                        (SELECT min(v) AS lo, max(v) AS hi FROM unnest(%b::text[]) AS v) AS b
                    WHERE r.record_id >= b.lo AND r.record_id <= b.hi
                )
                """,
                [record_ids.to_list()],
            )
        row = cursor.fetchone()
        return bool(row and row[0])


def _existing_record_ids(record_ids: list[str]) -> list[str]:
    existing: list[str] = []
    with _cursor() as cursor:
        for chunk in _chunks(record_ids, 50_000):
            condition, params = _in_list(chunk)
            cursor.execute(
                f"SELECT record_id FROM usage_usagerecord WHERE record_id {condition}",  # noqa: S608
                params,
            )
            existing.extend(row[0] for row in cursor.fetchall())
    return existing


# --- writing a batch --------------------------------------------------------------------------


def _copy_records(raw: Any, records: pl.DataFrame) -> None:
    """PostgreSQL: the frame's records by COPY, the CSV written by polars (no Python per row)."""
    columns = ", ".join(_RECORD_COLUMNS)
    payload = records.write_csv(include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f+00:00")
    with (
        psycopg.Cursor(raw) as cursor,
        cursor.copy(f"COPY usage_usagerecord ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
    ):
        copy.write(payload)


# Columns of a handful of values each, and those values.
_FEW_VALUES: dict[str, tuple[str, ...]] = {
    "kind": rating.KINDS,
    "zone": rating.ZONES,
    "direction": (rating.OUT, rating.IN),
    "outcome": (rating.RATED, rating.FREE, rating.REJECTED_STATE, rating.REJECTED_BARRED),
}


def _column_values(records: pl.DataFrame, name: str) -> list[Any]:
    """A column as Python values; a column of a few known strings as the same few objects
    (one str per value instead of one per row: less to make and to free)."""
    column = records.get_column(name)
    values = _FEW_VALUES.get(name)
    if values is None:
        return column.to_list()
    codes = column.cast(pl.Enum(values)).to_physical().to_list()
    return [values[code] for code in codes]


_ROWS_PER_INSERT = 100  # SQLite: rows per INSERT statement (16 columns: 1,500 parameters)


def _insert_records(raw: Any, records: pl.DataFrame, cdr_import_id: int) -> None:
    """SQLite: the frame's records by one executemany of a multi-row INSERT (_ROWS_PER_INSERT
    rows a statement) over its columns zipped and flattened (the import's id, the same on every
    row, is in the statement). The sqlite3 module lets go of the GIL at each statement it
    steps: one step per 100 rows instead of one per row, which costs less alone (~30 %) and
    far less while the import's thread rates the next frame (each step had to win the GIL
    back from it)."""
    columns = ", ".join(_RECORD_COLUMNS)
    row = (
        "("
        + ", ".join(
            str(int(cdr_import_id)) if name == "cdr_import_id" else "?" for name in _RECORD_COLUMNS
        )
        + ")"
    )
    records = records.with_columns(pl.col("started_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
    width = len(records.columns)
    values = chain.from_iterable(
        zip(*(_column_values(records, name) for name in records.columns), strict=True)
    )
    full, rest = divmod(records.height, _ROWS_PER_INSERT)
    step = _ROWS_PER_INSERT * width
    statement = f"INSERT INTO usage_usagerecord ({columns}) VALUES "  # noqa: S608
    cursor = raw.cursor()
    try:
        if full:
            cursor.executemany(
                statement + ", ".join([row] * _ROWS_PER_INSERT),
                (tuple(islice(values, step)) for _ in range(full)),
            )
        if rest:
            cursor.execute(statement + ", ".join([row] * rest), tuple(values))
    finally:
        cursor.close()


class _RecordWriter:
    """Writes a frame's records in a thread of its own, on the batch's connection (so in its
    transaction), while the import rates the next frame: SQLite's executemany and PostgreSQL's
    COPY spend most of their time outside the GIL (in SQLite, in the server). The batch uses
    the connection only after `wait`, so the two never use it at once."""

    def __init__(self, stages: tuple[dict[str, float], dict[str, float]]) -> None:
        self.stages, self.cpu_stages = stages
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def submit(self, records: pl.DataFrame, cdr_import_id: int) -> None:
        self.wait()
        connection.ensure_connection()
        raw = connection.connection
        sqlite = connection.vendor != "postgresql"

        def write() -> None:
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                if sqlite:
                    _insert_records(raw, records.drop("cdr_import_id"), cdr_import_id)
                else:
                    _copy_records(raw, records)
            except BaseException as error:  # handed to the batch's thread by wait()
                self.error = error
            finally:
                self.stages["records"] = (
                    self.stages.get("records", 0.0) + time.perf_counter() - started
                )
                self.cpu_stages["records"] = (
                    self.cpu_stages.get("records", 0.0) + time.thread_time() - cpu
                )

        self.thread = threading.Thread(target=write, name="cdr-records", daemon=True)
        self.thread.start()

    @property
    def idle(self) -> bool:
        """Whether nothing is being written (`wait` returned, or nothing was submitted)."""
        return self.thread is None

    def wait(self) -> None:
        """Wait for the frame being written; raises what writing it raised."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        """Wait for the thread, whatever it did (the batch is failing already)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        self.error = None


def _first_of_each_id(good: pl.DataFrame) -> pl.DataFrame:
    """The first row of each record_id. Ids in strictly ascending order (as switches number
    them) are all different: one comparison of neighbours instead of hashing every id."""
    ids = pl.col("record_id")
    if good.height < 2 or good.select((ids > ids.shift()).slice(1).all()).item():
        return good
    return good.unique(subset="record_id", keep="first", maintain_order=True)


def _without(fresh: pl.DataFrame, written: pl.Series) -> pl.DataFrame:
    """The frame's rows whose record_id is not among `written` (a frame not yet stored)."""
    low, high = fresh.get_column("record_id").min(), fresh.get_column("record_id").max()
    if written.max() < low or written.min() > high:  # type: ignore[operator]
        return fresh
    return fresh.filter(~pl.col("record_id").is_in(written.implode()))


def _update_from_values(cursor: Any, table: str, column: str, pairs: list[tuple[int, int]]) -> None:
    """UPDATE table SET column = column + delta for (id, delta) pairs: one statement per chunk
    (PostgreSQL: the pairs as two arrays; SQLite: a VALUES list)."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"""
            UPDATE {table} SET {column} = {table}.{column} + v.delta
            FROM unnest(%b::bigint[], %b::bigint[]) AS v(id, delta)
            WHERE {table}.id = v.id
            """,  # noqa: S608
            [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
        )
        return
    for chunk in _chunks(pairs):
        values = ", ".join(["(%s, %s)"] * len(chunk))
        cursor.execute(
            f"""
            UPDATE {table} SET {column} = {table}.{column} + v.delta
            FROM (SELECT column1 AS id, column2 AS delta FROM (VALUES {values}) AS raw) AS v
            WHERE {table}.id = v.id
            """,  # noqa: S608
            [value for pair in chunk for value in pair],
        )


def _line_changes(
    debts: list[tuple[int, int]], barred: list[int], lifted: list[int]
) -> list[tuple[int, int, int]]:
    """Per line changed: (id, debt to add, 1 barred now / -1 bar lifted / 0 bar unchanged)."""
    changes: dict[int, list[int]] = {line_id: [debt, 0] for line_id, debt in debts}
    for line_id in barred:
        changes.setdefault(line_id, [0, 0])[1] = 1
    for line_id in lifted:
        changes.setdefault(line_id, [0, 0])[1] = -1
    return [(line_id, debt, bar) for line_id, (debt, bar) in sorted(changes.items())]


_LINES_SET = """
    usage_debt_cents = lines_line.usage_debt_cents + v.debt,
    is_barred = CASE v.bar WHEN 1 THEN {true} WHEN -1 THEN {false} ELSE lines_line.is_barred END,
    barred_at = CASE WHEN v.bar = 1 THEN %s ELSE lines_line.barred_at END
"""


def _update_lines(cursor: Any, changes: list[tuple[int, int, int]], now: dt.datetime) -> None:
    """The lines' debts, bars set and bars lifted by one UPDATE (each row written once: three
    statements wrote the barred lines' rows three times, with every index of lines_line)."""
    if not changes:
        return
    if connection.vendor == "postgresql":
        cursor.execute(
            f"""
            UPDATE lines_line SET {_LINES_SET.format(true="TRUE", false="FALSE")}
            FROM unnest(%b::bigint[], %b::bigint[], %b::int[]) AS v(id, debt, bar)
            WHERE lines_line.id = v.id
            """,  # noqa: S608
            [now, *([change[index] for change in changes] for index in range(3))],
        )
        return
    at = connection.ops.adapt_datetimefield_value(now)
    for chunk in _chunks(changes):
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        cursor.execute(
            f"""
            UPDATE lines_line SET {_LINES_SET.format(true="1", false="0")}
            FROM (SELECT column1 AS id, column2 AS debt, column3 AS bar
                  FROM (VALUES {values}) AS raw) AS v
            WHERE lines_line.id = v.id
            """,  # noqa: S608
            [at, *(value for change in chunk for value in change)],
        )


_DAILY_INSERT_ARRAYS = """
    INSERT INTO usage_dailyusage (line_id, day, kind, units, records, charged_cents)
    SELECT * FROM unnest(%b::bigint[], %b::date[], %b::varchar[], %b::bigint[], %b::bigint[],
                         %b::bigint[])
    ON CONFLICT (line_id, day, kind) DO UPDATE SET
        units = usage_dailyusage.units + excluded.units,
        records = usage_dailyusage.records + excluded.records,
        charged_cents = usage_dailyusage.charged_cents + excluded.charged_cents
"""
_DAILY_INSERT_ROWS = (
    "INSERT INTO usage_dailyusage (line_id, day, kind, units, records, charged_cents) VALUES ",
    "(%s, %s, %s, %s, %s, %s)",
    """
    ON CONFLICT (line_id, day, kind) DO UPDATE SET
        units = usage_dailyusage.units + excluded.units,
        records = usage_dailyusage.records + excluded.records,
        charged_cents = usage_dailyusage.charged_cents + excluded.charged_cents
    """,
)


def _insert_many(cursor: Any, statement: tuple[str, str, str], rows: list[tuple[Any, ...]]) -> None:
    """SQLite: rows by INSERTs of _ROWS_PER_INSERT rows each; `statement` is the INSERT up to
    VALUES, one row's placeholders, and what follows the rows (ON CONFLICT …)."""
    head, row, tail = statement
    full = len(rows) - len(rows) % _ROWS_PER_INSERT
    if full:
        cursor.executemany(
            head + ", ".join([row] * _ROWS_PER_INSERT) + tail,
            [
                tuple(value for one in rows[start : start + _ROWS_PER_INSERT] for value in one)
                for start in range(0, full, _ROWS_PER_INSERT)
            ],
        )
    if full < len(rows):
        rest = rows[full:]
        cursor.execute(
            head + ", ".join([row] * len(rest)) + tail,
            tuple(value for one in rest for value in one),
        )


def _daily_rollups(records: pl.DataFrame) -> pl.DataFrame:
    """Per line, business day and kind: units served, records, cents charged.

    `records` has line_id, day, kind, served (units - rejected) and charged_cents."""
    return (
        records.filter((pl.col("served") > 0) | (pl.col("charged_cents") > 0))
        .group_by("line_id", "day", "kind")
        .agg(
            units=pl.col("served").sum(),
            records=pl.len().cast(pl.Int64),
            charged_cents=pl.col("charged_cents").sum(),
        )
    )


def _merged(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return (
        pl.concat(parts)
        .group_by("line_id", "day", "kind")
        .agg(pl.col("units").sum(), pl.col("records").sum(), pl.col("charged_cents").sum())
    )


def _rollups(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """A batch's rollups (one part per frame) merged, in the order they are written."""
    return (
        _merged(parts)
        .sort("line_id", "day", "kind")
        .select("line_id", "day", "kind", "units", "records", "charged_cents")
    )


def _add_daily(cursor: Any, rollups: pl.DataFrame) -> None:
    """Add a batch's merged rollups to the stored ones: one statement."""
    if not rollups.height:
        return
    if connection.vendor == "postgresql":
        cursor.execute(
            _DAILY_INSERT_ARRAYS,
            [rollups.get_column(name).to_list() for name in rollups.columns],
        )
        return
    _insert_many(
        cursor, _DAILY_INSERT_ROWS, rollups.with_columns(pl.col("day").cast(pl.String)).rows()
    )


@dataclass(frozen=True)
class _Notice:
    info: _LineInfo
    template: str
    key: str
    context: dict[str, Any]


_NOTIFICATION_COLUMNS = """
    created_at, send_after, recipient_id, channel, template, language, line_id,
    reference_at, context, dedupe_key, status, attempts, address, subject, body,
    last_error, sent_at
"""


_NotificationRow = tuple[int, str, str, str, int, str, str]


def _notification_rows(notices: list[_Notice]) -> list[_NotificationRow]:
    """The outbox rows of the notices: email and SMS each."""
    return [
        (
            notice.info.user_id,
            channel,
            notice.template,
            notice.info.language,
            notice.info.account.line_id,
            json.dumps(notice.context),
            f"{notice.key}:{channel}",
        )
        for notice in notices
        for channel in ("email", "sms")
    ]


def _queue(cursor: Any, rows: list[_NotificationRow], now: dt.datetime) -> None:
    """Queue the notifications once: ON CONFLICT on the dedupe key does nothing."""
    if connection.vendor == "postgresql":
        cursor.execute(
            f"""
            INSERT INTO notify_notification ({_NOTIFICATION_COLUMNS})
            SELECT %s, %s, v.recipient_id, v.channel, v.template, v.language, v.line_id,
                   NULL, v.context::jsonb, v.dedupe_key, 'queued', 0, '', '', '', '', NULL
            FROM unnest(%b::bigint[], %b::varchar[], %b::varchar[], %b::varchar[],
                        %b::bigint[], %b::text[], %b::varchar[])
                 AS v(recipient_id, channel, template, language, line_id, context, dedupe_key)
            ON CONFLICT (dedupe_key) DO NOTHING
            """,  # noqa: S608
            [now, now, *([row[index] for row in rows] for index in range(7))],
        )
        return
    at = connection.ops.adapt_datetimefield_value(now)
    _insert_many(
        cursor,
        (
            f"INSERT INTO notify_notification ({_NOTIFICATION_COLUMNS}) VALUES ",  # noqa: S608
            "(%s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, 'queued', 0, '', '', '', '', NULL)",
            " ON CONFLICT (dedupe_key) DO NOTHING",
        ),
        [(at, at, *row) for row in rows],
    )


def _bucket_changes(
    touched: dict[int, _LineInfo], used_before: dict[int, int]
) -> tuple[list[tuple[int, int]], list[_Notice]]:
    """What a batch added to each bucket, and the thresholds (80%, 100%) it crossed."""
    notices: list[_Notice] = []
    deltas: list[tuple[int, int]] = []
    for info in touched.values():
        for bucket in info.account.buckets:
            before = used_before[bucket.id]
            if bucket.used == before:
                continue
            deltas.append((bucket.id, bucket.used - before))
            percent = rating.threshold_crossed(bucket.total, before, bucket.used)
            if percent is not None:
                notices.append(
                    _Notice(
                        info,
                        notifications.BUCKET_100 if percent == 100 else notifications.BUCKET_80,
                        f"usage.bucket:{bucket.id}:{percent}",
                        {
                            "kind": bucket.kind,
                            "source": bucket.source,
                            "percent": percent,
                            "total": bucket.total,
                            "expires_at": (
                                rating.EPOCH + bucket.expires_at * rating.MICROSECOND
                            ).isoformat(),
                        },
                    )
                )
    return sorted(deltas), notices


# --- one batch: one transaction over several frames -------------------------------------------


@dataclass
class _BatchOutcome:
    rows: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    charged_cents: int = 0
    debt_cents: int = 0


class _Batch:
    """One database transaction: frames are rated and their records written one by one,
    while what they do to lines (bucket usage, wallet charges, debt and bars, daily
    rollups, notifications) is summed in memory, per line, and written once by `flush`:
    at the end of the batch, or before the line cache reloads for a late frame."""

    def __init__(
        self,
        cdr_import: CdrImport,
        number: int,
        now: dt.datetime,
        cache: _LineCache,
        stages: tuple[dict[str, float], dict[str, float]],
    ) -> None:
        self.cdr_import = cdr_import
        self.number = number
        self.now = now
        self.cache = cache
        self.stages, self.cpu_stages = stages
        self.outcome = _BatchOutcome()
        self.locked = False
        self.flushes = 0
        self.sqlite = connection.vendor != "postgresql"
        # Locked at first sight in this batch; in memory the wallets' balances move as rated.
        self.wallets: dict[int, rating.Wallet] = {}
        self.ledger_accounts: dict[int, LedgerAccount] = {}
        # Since the last flush: the lines rated, their buckets' usage then, lines unbarred.
        self.touched: dict[int, _LineInfo] = {}
        self.used_before: dict[int, int] = {}
        self.unbarred: list[int] = []
        self.used_data: set[int] = set()  # lines whose data buckets this batch used
        self.daily: list[pl.DataFrame] = []  # per frame: rollups by line, day and kind
        # The last frame's records, rated, until the next frame is prepared; then the writer's.
        self.pending: pl.DataFrame | None = None
        self.writer = _RecordWriter(stages)
        self._clock, self._cpu_clock = time.perf_counter(), time.thread_time()

    def _lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._clock
        self.cpu_stages[stage] = self.cpu_stages.get(stage, 0.0) + cpu - self._cpu_clock
        self._clock, self._cpu_clock = now, cpu

    def add(self, frame: pl.DataFrame) -> list[RejectedRow]:
        """Rate one checked frame and hand its records to the writer; returns its rejected rows
        in row order. The records of the frame before are written while this one is rated."""
        self._clock, self._cpu_clock = time.perf_counter(), time.thread_time()
        self.writer.wait()  # the frame before the last one: the database is ours again
        self._lap("wait")
        outcome = self.outcome
        outcome.rows += frame.height
        rejected: list[RejectedRow] = []
        bad = frame.filter(pl.col("reason").is_not_null())
        if bad.height:
            rejected.extend(_rejects(bad))
        good = frame.filter(pl.col("reason").is_null())
        if not self.locked:
            self._lock()
        fresh = _first_of_each_id(good)
        outcome.duplicates += good.height - fresh.height
        if fresh.height and self.pending is not None:
            # The last frame's records are rated but not written yet: they count as stored.
            before = fresh.height
            fresh = _without(fresh, self.pending.get_column("record_id"))
            outcome.duplicates += before - fresh.height
        if fresh.height and _any_stored_in_range(fresh.get_column("record_id")):
            existing = _existing_record_ids(fresh.get_column("record_id").to_list())
            if existing:
                before = fresh.height
                fresh = fresh.filter(~pl.col("record_id").is_in(existing))
                outcome.duplicates += before - fresh.height
        self._lap("dedupe")
        records = None
        if fresh.height:
            records, unknown = self._prepare(fresh)
            rejected.extend(unknown)
        self._submit()
        if records is not None:
            self.outcome.applied += records.height
            if self.writer.idle and records.height >= _HEAD_MIN:
                # Nothing is being written (the batch's first frame): rate the frame's first
                # quarter and write it at once, so the database works while the rest is rated.
                head = records.height // 4
                self.writer.submit(self._rate(records.slice(0, head)), self.cdr_import.pk)
                records = records.slice(head)
            self.pending = self._rate(records)
        outcome.rejected += len(rejected)
        rejected.sort(key=lambda reject: reject.row_number)
        return rejected

    def _submit(self) -> None:
        """Hand the rated frame to the writer thread (the database is not used meanwhile)."""
        if self.pending is None:
            return
        table, self.pending = self.pending, None
        self.writer.submit(table, self.cdr_import.pk)

    def _lock(self) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            else:
                # A write first: SQLite hands this transaction the write lock now,
                # before the dedupe read, so two imports serialize.
                cursor.execute(
                    "UPDATE usage_cdrimport SET status = status WHERE id = %s",
                    [self.cdr_import.pk],
                )
        self.locked = True
        seen = self.cache.last_record_id
        if seen is not None and _last_record_id() != seen:
            self.cache.clear()  # another import may have moved the buckets we hold

    def _prepare(self, fresh: pl.DataFrame) -> tuple[pl.DataFrame | None, list[RejectedRow]]:
        """The frame's lines (loaded, their wallets locked): the records to rate, and the rows
        of no live line, rejected."""
        rejected: list[RejectedRow] = []
        earliest = fresh.get_column("ts").min()
        assert isinstance(earliest, int)  # noqa: S101  (checked rows all have a time)
        if self.cache.needs_reload(earliest):
            self.flush()
        lines = self.cache.get(fresh.get_column("msisdn").unique().to_list(), earliest)
        known = pl.DataFrame(
            {
                "msisdn": list(lines),
                "line_id": [info.account.line_id for info in lines.values()],
                "subscriber_id": [info.subscriber_id for info in lines.values()],
            },
            schema={"msisdn": pl.String, "line_id": pl.Int64, "subscriber_id": pl.Int64},
        )
        joined = fresh.join(known, on="msisdn", how="left", maintain_order="left")
        unknown = joined.filter(pl.col("line_id").is_null())
        if unknown.height:
            reason = gettext("No live line has this msisdn.")
            rejected.extend(_rejects(unknown.with_columns(reason=pl.lit(reason))))
        records = joined.filter(pl.col("line_id").is_not_null())
        if not records.height:
            return None, rejected
        infos = {info.account.line_id: info for info in lines.values()}
        self._meet(infos)
        self._lap("load")
        return records, rejected

    def _meet(self, infos: dict[int, _LineInfo]) -> None:
        """Lock the wallets not met yet in this batch; note the lines not met since the flush."""
        new_subscribers = sorted(
            {info.subscriber_id for info in infos.values()} - self.wallets.keys()
        )
        if new_subscribers:
            locked = _lock_wallets(new_subscribers)
            self.ledger_accounts.update(locked)
            for subscriber_id in new_subscribers:
                wallet = locked.get(subscriber_id)
                self.wallets[subscriber_id] = rating.Wallet(
                    wallet.cached_balance_cents + wallet.overdraft_limit_cents if wallet else 0
                )
        for line_id, info in infos.items():
            if line_id in self.touched:
                continue
            self.touched[line_id] = info
            account = info.account
            for bucket in account.buckets:
                self.used_before[bucket.id] = bucket.used
            if account.is_barred and self.wallets[info.subscriber_id].available_cents > 0:
                # The wallet has money again (a top-up): chargeable usage is back.
                account.is_barred = False
                self.unbarred.append(line_id)

    def _rate(self, records: pl.DataFrame) -> pl.DataFrame:
        """Rate the frame (vectorized.rate_frame: polars columns where provably the same as the
        loop, rating.rate_record for the rest) and add it to the rollups; returns its records
        as they are stored, for the writer."""
        records = records.with_columns(
            direction=pl.col("direction").fill_null(rating.OUT),
            quantity=pl.col("quantity").cast(pl.Int64),
            position=pl.int_range(pl.len(), dtype=pl.Int64),
            day=pl.col("started").dt.convert_time_zone(str(business_zone())).dt.date(),
        )
        accounts = {info.account.line_id: info.account for info in self.touched.values()}
        rated = vectorized.rate_frame(
            records.select(
                "position",
                "line_id",
                "subscriber_id",
                pl.col("type").alias("kind"),
                "zone",
                "direction",
                "ts",
                "quantity",
            ),
            accounts,
            self.wallets,
        ).drop("position")
        self._lap("rate")
        table = records.select(
            "record_id",
            pl.lit(self.cdr_import.pk, dtype=pl.Int64).alias("cdr_import_id"),
            "line_id",
            pl.col("type").alias("kind"),
            "zone",
            "direction",
            pl.col("started").alias("started_at"),
            "quantity",
        ).hstack(rated)
        self._add_rollups(
            records,
            rated.get_column("units") - rated.get_column("rejected_units"),
            rated.get_column("charged_cents"),
        )
        return table

    def _add_rollups(self, records: pl.DataFrame, served: pl.Series, charged: pl.Series) -> None:
        self.daily.append(
            _daily_rollups(
                records.select("line_id", "day", pl.col("type").alias("kind")).with_columns(
                    served=served, charged_cents=charged
                )
            )
        )
        if len(self.daily) > _DAILY_PARTS:
            self.daily = [_merged(self.daily)]
        self._lap("daily")

    def flush(self) -> None:
        """Write what the frames since the last flush did to lines, wallets and rollups."""
        self._clock, self._cpu_clock = time.perf_counter(), time.thread_time()
        plan = self._plan()
        if plan is not None:
            self._write(plan)

    def _plan(self) -> _FlushPlan | None:
        """What the flush writes, worked out in memory (no database): at the end of a batch
        while the writer writes the last frame."""
        if not self.touched:
            return None
        self.flushes += 1
        deltas, notices = _bucket_changes(self.touched, self.used_before)
        self.used_data.update(
            info.account.line_id
            for info in self.touched.values()
            if any(
                b.kind == rating.DATA and b.used != self.used_before[b.id]
                for b in info.account.buckets
            )
        )
        legs = [
            (self.ledger_accounts[subscriber_id], -wallet.charged_cents)
            for subscriber_id, wallet in sorted(self.wallets.items())
            if wallet.charged_cents
        ]
        for wallet in self.wallets.values():
            wallet.charged_cents = 0
        accounts = [info.account for info in self.touched.values()]
        debts = sorted((a.line_id, a.debt_cents) for a in accounts if a.debt_cents)
        barred = sorted(a.line_id for a in accounts if a.newly_barred)
        newly = set(barred)
        lifted = sorted(line_id for line_id in self.unbarred if line_id not in newly)
        stamp = int(self.now.timestamp())
        notices += [
            _Notice(
                self.touched[line_id],
                notifications.BARRED,
                f"usage.barred:{line_id}:{stamp}",
                {"debt_cents": self.touched[line_id].account.debt_cents},
            )
            for line_id in barred
        ]
        for account in accounts:
            account.debt_cents = 0
            account.newly_barred = False
        rollups = _rollups(self.daily) if self.daily else None
        self.daily = []
        plan = _FlushPlan(
            deltas,
            legs,
            sum(debt for _line, debt in debts),
            _line_changes(debts, barred, lifted),
            rollups,
            _notification_rows(notices),
        )
        self.touched.clear()
        self.used_before.clear()
        self.unbarred.clear()
        self._lap("plan")
        return plan

    def _write(self, plan: _FlushPlan) -> None:
        """Write a flush: the ledger transaction, then the buckets, lines, rollups and outbox rows.
        On PostgreSQL those four statements go in one pipeline: the server runs each while the
        next one's arrays are made and sent (the end of a batch is server work: no client round
        trip in between)."""
        self._charge(plan.legs)
        self._lap("ledger")
        self.outcome.debt_cents += plan.debt_cents
        with _cursor() as cursor, _pipeline():
            if plan.deltas:
                _update_from_values(cursor, "lines_bucket", "used", plan.deltas)
            _update_lines(cursor, plan.lines, self.now)
            if plan.rollups is not None:
                _add_daily(cursor, plan.rollups)
            if plan.notifications:
                _queue(cursor, plan.notifications, self.now)
        self._lap("flush")

    def finish(self) -> None:
        """The end of the batch: flush, then count it on the import (same transaction). The
        flush is worked out while the writer writes the batch's last frame."""
        self._clock, self._cpu_clock = time.perf_counter(), time.thread_time()
        self.writer.wait()
        self._submit()
        plan = self._plan()
        self.writer.wait()
        self._lap("wait")
        if plan is not None:
            self._write(plan)
        self._top_up_data()
        self.cache.last_record_id = _last_record_id()
        outcome = self.outcome
        CdrImport.objects.filter(pk=self.cdr_import.pk).update(
            rows_read=F("rows_read") + outcome.rows,
            applied=F("applied") + outcome.applied,
            duplicates=F("duplicates") + outcome.duplicates,
            rejected=F("rejected") + outcome.rejected,
            charged_cents=F("charged_cents") + outcome.charged_cents,
            debt_cents=F("debt_cents") + outcome.debt_cents,
        )

    def _top_up_data(self) -> None:
        """The data auto-top-up (orders.services.autorenew) of the lines that chose one and whose
        data this batch used: one query finds them; each buys its add-on, once per crossing, if
        its data is now under its threshold. Their lines are reloaded by the next batch, which
        then rates against the new bucket."""
        if not self.used_data:
            return
        from simcare.lines.models import Line
        from simcare.orders.models import AutoRenewSetting
        from simcare.orders.services import autorenew

        chosen: list[int] = []
        for chunk in _chunks(sorted(self.used_data)):
            chosen.extend(
                AutoRenewSetting.objects.filter(
                    line_id__in=chunk, data_topup_enabled=True, data_topup_addon__isnull=False
                ).values_list("line_id", flat=True)
            )
        bought = [
            line_id
            for line_id in sorted(chosen)
            if autorenew.maybe_top_up_data(Line(pk=line_id), now=self.now) is not None
        ]
        self.cache.forget(bought)

    def _charge(self, legs: list[tuple[LedgerAccount, int]]) -> None:
        """One ledger transaction per flush: each wallet -its charges, revenue:usage +all."""
        if not legs:
            return
        charged = -sum(amount for _account, amount in legs)
        self.outcome.charged_cents += charged
        suffix = f"{self.number}" if self.flushes == 1 else f"{self.number}.{self.flushes}"
        ledger.post_transaction(
            kind=TransactionKind.USAGE_CHARGE,
            entries=[*legs, (ledger.system_account(REVENUE_ACCOUNT), charged)],
            memo=f"usage of {self.cdr_import.file_name}, batch {suffix}"[:300],
            idempotency_key=f"usage:{self.cdr_import.pk}:{suffix}",
            reference=f"cdr_import:{self.cdr_import.pk}",
        )


@dataclass(frozen=True)
class _FlushPlan:
    """What one flush writes: bucket deltas, the wallets' legs, the debt it adds, the lines'
    changes (debt, bar set or lifted), the merged rollups, the outbox rows."""

    deltas: list[tuple[int, int]]
    legs: list[tuple[LedgerAccount, int]]
    debt_cents: int
    lines: list[tuple[int, int, int]]
    rollups: pl.DataFrame | None
    notifications: list[_NotificationRow]


# --- the import -------------------------------------------------------------------------------


_READ_ERRORS = (OSError, EOFError, zlib.error)  # a truncated or corrupt gzip; an unreadable file


def import_cdrs(
    source: IO[bytes],
    *,
    file_name: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    frame_size: int = DEFAULT_FRAME_SIZE,
    on_reject: Callable[[RejectedRow], None] | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import one CDR file (CSV, or gzip of it) from a binary stream; returns what it did.

    `batch_size` rows make one database transaction, read, rated and written
    `frame_size` rows at a time. Raises CdrFileRefused when the file is not a
    CDR CSV (nothing imported), or when it stops being readable part-way (the
    frames before stay applied; the report up to there is in the exception's
    details["report"]). `progress` is called after each frame with the number
    of rows read so far; `on_reject` with each rejected row, in row order.
    """
    started = time.perf_counter()
    cdr_import = CdrImport.objects.create(
        file_name=file_name[:255], started_at=now or timezone.now()
    )
    report = ImportReport(file_name=file_name, cdr_import_id=cdr_import.pk)
    batch_size = max(1, batch_size)
    frame_size = max(1, min(frame_size, batch_size))
    cache = _LineCache()
    number = 0
    try:
        reader = _Reader(
            _binary_stream(source), frame_size, (report.stage_seconds, report.stage_cpu_seconds)
        )
        while not reader.done:
            number += 1
            with transaction.atomic():
                batch = _Batch(
                    cdr_import,
                    number,
                    now or timezone.now(),
                    cache,
                    (report.stage_seconds, report.stage_cpu_seconds),
                )
                # No cyclic garbage collection during a batch: its passes would walk every
                # object of the process again and again while frames' values are made and
                # written (they make no cycles); it runs again after the batch.
                collecting = gc.isenabled()
                gc.disable()
                try:
                    broken = _fill(batch, reader, batch_size, report, on_reject, progress)
                    if batch.locked:
                        batch.finish()
                finally:
                    reader.close()  # nor reading ahead
                    batch.writer.close()  # never leave it writing while the batch rolls back
                    if collecting:
                        gc.enable()
            _add_to_report(report, batch.outcome)
            if broken is not None:
                raise broken
    except CdrFileRefused as refusal:
        _finish(cdr_import, ImportStatus.REFUSED, refusal.message)
        refusal.details["report"] = report
        raise
    except _READ_ERRORS as error:
        message = gettext("The file cannot be read: %(detail)s") % {"detail": error}
        _finish(cdr_import, ImportStatus.REFUSED, message)
        raise CdrFileRefused(message, report=report) from error
    except BaseException as error:
        _finish(cdr_import, ImportStatus.FAILED, type(error).__name__)
        raise
    _finish(cdr_import, ImportStatus.FINISHED, "")
    report.seconds = time.perf_counter() - started
    return report


class _Reader:
    """The file, frame by frame: lines read, parsed and checked; row numbers continue.

    `prefetch(limit)` reads and checks the next frame in a thread of its own while the import
    rates the one before (polars parses and checks outside the GIL); `read` then hands it over,
    or raises what reading it raised, at the same point as reading it there would have. The
    batch asks for the next frame only within its own lines, so nothing is read ahead of a
    batch that has not committed yet."""

    def __init__(
        self,
        binary: IO[bytes],
        frame_size: int,
        stages: tuple[dict[str, float], dict[str, float]],
    ) -> None:
        self.binary = binary
        self.order = _header_order(binary)
        self.frame_size = frame_size
        self.stages, self.cpu_stages = stages
        self.next_line = 2
        self.last_lines = 0
        self.done = False
        self._thread: threading.Thread | None = None
        self._ahead: tuple[pl.DataFrame | None, int, BaseException | None] | None = None

    def prefetch(self, limit: int) -> None:
        """Start reading the next frame (at most `limit` lines) in a thread."""
        self.close()
        language = translation.get_language()  # the reasons of rejected rows: same language

        def read_ahead() -> None:
            try:
                with translation.override(language):
                    frame, lines = self._read(limit)
            except BaseException as error:  # handed over by read(), where it belongs
                self._ahead = (None, 0, error)
            else:
                self._ahead = (frame, lines, None)

        self._thread = threading.Thread(target=read_ahead, name="cdr-reader", daemon=True)
        self._thread.start()

    def read(self, limit: int) -> pl.DataFrame | None:
        """The next frame (the prefetched one, if any), None at the end of the file."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            ahead, self._ahead = self._ahead, None
            assert ahead is not None  # noqa: S101  (the thread always leaves its result)
            frame, lines, error = ahead
            if error is not None:
                raise error
        else:
            frame, lines = self._read(limit)
        self.last_lines = lines
        if frame is None:
            self.done = True
        return frame

    def close(self) -> None:
        """Wait for a frame being read ahead and drop it (the batch is over or failing)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._ahead = None

    def _read(self, limit: int) -> tuple[pl.DataFrame | None, int]:
        started, cpu = time.perf_counter(), time.thread_time()
        lines = list(islice(self.binary, min(self.frame_size, limit)))
        if not lines:
            return None, 0
        frame = _checked(_frame(lines, self.order), self.next_line, utf8=_valid_utf8(lines))
        self.next_line += len(lines)
        self.stages["parse"] = self.stages.get("parse", 0.0) + time.perf_counter() - started
        self.cpu_stages["parse"] = self.cpu_stages.get("parse", 0.0) + time.thread_time() - cpu
        return frame, len(lines)


def _fill(  # noqa: PLR0917
    batch: _Batch,
    reader: _Reader,
    batch_size: int,
    report: ImportReport,
    on_reject: Callable[[RejectedRow], None] | None,
    progress: Progress | None,
) -> BaseException | None:
    """Read frames into the batch up to batch_size lines; returns a read error, if one stopped it
    (the frames before are kept: the batch still commits them)."""
    taken = 0
    while taken < batch_size:
        try:
            frame = reader.read(batch_size - taken)
        except _READ_ERRORS as error:
            return error
        if frame is None:
            return None
        taken += reader.last_lines
        if taken < batch_size:
            reader.prefetch(batch_size - taken)  # read while this frame is rated
        rows_before = batch.outcome.rows
        rejected = batch.add(frame)
        del frame
        report.rows_read += batch.outcome.rows - rows_before
        _report_rejects(report, rejected, on_reject)
        if progress is not None:
            progress(report.rows_read)
    return None


def _report_rejects(
    report: ImportReport,
    rejected: list[RejectedRow],
    on_reject: Callable[[RejectedRow], None] | None,
) -> None:
    report.rejected += len(rejected)
    for reject in rejected:
        if len(report.first_rejects) < REJECTS_KEPT:
            report.first_rejects.append(reject)
        if on_reject is not None:
            on_reject(reject)


def _add_to_report(report: ImportReport, outcome: _BatchOutcome) -> None:
    """A batch's totals, once it is committed (rows read and rejects are counted per frame)."""
    report.applied += outcome.applied
    report.duplicates += outcome.duplicates
    report.charged_cents += outcome.charged_cents
    report.debt_cents += outcome.debt_cents


def _finish(cdr_import: CdrImport, status: str, message: str) -> None:
    CdrImport.objects.filter(pk=cdr_import.pk).update(
        status=status, finished_at=timezone.now(), message=message[:300]
    )
