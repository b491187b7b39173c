"""The CDR import: parse, dedupe, rate and persist usage in set-based batches (30-usage.md).

`import_cdrs(source, file_name=...)` reads a CSV (gzip detected by its magic
bytes) in batches of `batch_size` rows. Each batch is one database
transaction:

1. take the import lock (PostgreSQL advisory lock; on SQLite the first
   statement is a write, which takes the database's write lock), so two
   imports of the same file at once rate each record once;
2. drop the rows whose record_id is already stored (or repeated earlier in
   the file): a re-import changes nothing;
3. load the batch's lines, their valid buckets and their wallets (locked, in
   primary-key order), and rate each wallet's records with `rating` (pure);
4. write: the records by COPY (PostgreSQL) or one multi-row INSERT
   (SQLite); bucket usage by one UPDATE … FROM (VALUES …); one ledger
   transaction for the whole batch (each wallet −its charges, revenue:usage
   +the sum); debt and barring on the lines; the daily rollups by
   INSERT … ON CONFLICT DO UPDATE; threshold and barring notifications into
   the outbox (dedupe keys make them once per bucket and per barring).

A bad row never stops the file: it is reported (row number = its line in
the file, header = 1) through `on_reject` and skipped. A file whose header
is not the contract's is refused whole (CdrFileRefused); invalid UTF-8 later
in a file refuses the rest of it (the batches before stay applied, and a
re-import of the fixed file only adds what is missing).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from simcare.catalog.models import Plan
from simcare.kit.time import business_zone
from simcare.ledger import services as ledger
from simcare.ledger.models import AccountKind, LedgerAccount, TransactionKind
from simcare.lines import lifecycle
from simcare.lines.models import Bucket, Line, LineState
from simcare.notify.models import Channel, Notification, NotificationStatus
from simcare.usage import notifications, rating
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
DEFAULT_BATCH_SIZE = 100_000
REVENUE_ACCOUNT = "revenue:usage"
REJECTS_KEPT = 20
_LOCK_KEY = 0x5C_0B_CD_F1  # pg_advisory_xact_lock key of the usage import
_MSISDN = re.compile(r"\+[1-9][0-9]{6,14}")
_KINDS = frozenset(rating.KINDS)
_ZONES = frozenset(rating.ZONES)
_DIRECTIONS = frozenset((rating.OUT, rating.IN))
_LOOKUP_CHUNK = 5_000
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


Progress = Callable[[int], None]


# --- reading the file -----------------------------------------------------------------------


def _text_stream(source: IO[bytes]) -> io.TextIOWrapper:
    head = source.peek(2)[:2] if hasattr(source, "peek") else b""
    if not head and source.seekable():
        position = source.tell()
        head = source.read(2)
        source.seek(position)
    binary: IO[bytes] = gzip.GzipFile(fileobj=source, mode="rb") if head == b"\x1f\x8b" else source
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]


def _positions(header: list[str] | None) -> tuple[int, ...]:
    if header is None:
        raise CdrFileRefused(gettext("The file is empty: its first line must be a header."))
    names = [name.strip().lower() for name in header]
    if sorted(names) != sorted(COLUMNS):
        found = ",".join(header)
        raise CdrFileRefused(
            gettext("The first line must be the header %(expected)s; found %(found)s.")
            % {"expected": ",".join(COLUMNS), "found": (found[:80] or '""')}
        )
    return tuple(names.index(name) for name in COLUMNS)


def _rows(text: io.TextIOWrapper) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text)
    try:
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise CdrFileRefused(gettext("This is not a CSV file (%(detail)s).") % {"detail": error}) from error
        positions = _positions(header)
        if positions != tuple(range(len(COLUMNS))):
            # Columns in another order: hand the rows on in the contract's order.
            for fields in _reordered(reader, positions):
                yield fields
            return
        last_line = reader.line_num
        for fields in reader:
            row_number = last_line + 1
            last_line = reader.line_num
            yield row_number, fields
    except UnicodeDecodeError as error:
        raise CdrFileRefused(
            gettext("The file is not UTF-8 text after line %(line)d.") % {"line": reader.line_num}
        ) from error
    except csv.Error as error:
        raise CdrFileRefused(
            gettext("Line %(line)d is not valid CSV (%(detail)s).")
            % {"line": reader.line_num, "detail": error}
        ) from error


def _reordered(reader: Any, positions: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
    width = len(COLUMNS)
    last_line = reader.line_num
    for fields in reader:
        row_number = last_line + 1
        last_line = reader.line_num
        if len(fields) == width:
            fields = [fields[position] for position in positions]
        yield row_number, fields


# --- checking rows --------------------------------------------------------------------------


class _Bad(Exception):
    pass


_Parsed = tuple[int, str, str, str, str, str, dt.datetime, int, list[str]]


def _check(row_number: int, fields: list[str]) -> _Parsed:
    """(row, record_id, msisdn, kind, zone, direction, started_at UTC, quantity, fields)."""
    if len(fields) != len(COLUMNS):
        raise _Bad(
            gettext("Expected %(expected)d columns (%(names)s), found %(found)d.")
            % {"expected": len(COLUMNS), "names": ",".join(COLUMNS), "found": len(fields)}
        )
    record_id, msisdn, kind, started, quantity_text, zone, direction = fields
    if not record_id or len(record_id) > 100 or "\x00" in record_id:
        raise _Bad(gettext("record_id must be 1 to 100 characters."))
    if not _MSISDN.fullmatch(msisdn):
        raise _Bad(gettext("msisdn must be an E.164 number such as +14165550142."))
    if kind not in _KINDS:
        raise _Bad(gettext("type must be data, voice or sms."))
    if zone not in _ZONES:
        raise _Bad(gettext("zone must be CA, US or INTL."))
    if direction not in _DIRECTIONS:
        if kind == rating.DATA and direction == "":
            direction = rating.OUT
        else:
            raise _Bad(gettext("direction must be out or in."))
    if quantity_text.isascii() and quantity_text.isdigit():
        quantity = int(quantity_text)
    elif quantity_text.startswith("-") and quantity_text[1:].isdigit():
        raise _Bad(gettext("quantity must not be negative."))
    else:
        raise _Bad(gettext("quantity must be a whole number."))
    if quantity > 10**15:
        raise _Bad(gettext("quantity is too large."))
    try:
        moment = dt.datetime.fromisoformat(started)
    except ValueError:
        raise _Bad(gettext("started_at must be an ISO 8601 time with an offset.")) from None
    if moment.tzinfo is None:
        raise _Bad(gettext("started_at must be an ISO 8601 time with an offset."))
    return (
        row_number,
        record_id,
        msisdn,
        kind,
        zone,
        direction,
        moment.astimezone(dt.UTC),
        quantity,
        fields,
    )


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
    msisdns: list[str], earliest: dt.datetime, rates: dict[int, rating.Rates]
) -> dict[str, _LineInfo]:
    config = lifecycle.current_config()
    found: dict[str, _LineInfo] = {}
    by_id: dict[int, rating.Account] = {}
    for chunk in _chunks(msisdns):
        rows = (
            Line.objects.filter(msisdn__in=chunk)
            .exclude(state=LineState.RECYCLED)
            .values_list(
                "id",
                "msisdn",
                "subscriber_id",
                "subscriber__user_id",
                "subscriber__user__language",
                "plan_id",
                "activated_at",
                "period_end",
                "is_barred",
            )
        )
        for line_id, msisdn, subscriber_id, user_id, language, plan_id, activated, end, barred in rows:
            if plan_id not in rates:
                rates[plan_id] = _plan_rates(Plan.objects.get(pk=plan_id))
            limits = lifecycle.deadlines(end, config)
            account = rating.Account(
                line_id=line_id,
                rates=rates[plan_id],
                activated_at=activated,
                period_end=end,
                grace_ends_at=limits.grace_ends_at,
                suspension_ends_at=limits.suspension_ends_at,
                buckets=[],
                is_barred=barred,
            )
            found[msisdn] = _LineInfo(subscriber_id, user_id, language, account)
            by_id[line_id] = account
    line_ids = sorted(by_id)
    for chunk in _chunks(line_ids):
        buckets = Bucket.objects.filter(line_id__in=chunk, expires_at__gt=earliest).values_list(
            "id", "line_id", "kind", "zone", "source", "total", "used", "starts_at", "expires_at"
        )
        for bucket_id, line_id, kind, zone, source, total, used, starts, expires in buckets:
            by_id[line_id].buckets.append(
                rating.Bucket(bucket_id, kind, zone, source, total, used, starts, expires)
            )
    for account in by_id.values():
        account.buckets = rating.consumption_order(account.buckets)
    return found


def _lock_wallets(subscriber_ids: list[int]) -> dict[int, LedgerAccount]:
    wallets: dict[int, LedgerAccount] = {}
    for chunk in _chunks(sorted(subscriber_ids)):
        for account in (
            LedgerAccount.objects.select_for_update()
            .filter(kind=AccountKind.WALLET, subscriber_id__in=chunk)
            .order_by("pk")
        ):
            assert account.subscriber_id is not None
            wallets[account.subscriber_id] = account
    return wallets


def _existing_record_ids(record_ids: list[str]) -> set[str]:
    existing: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks(record_ids, 50_000):
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT record_id FROM usage_usagerecord WHERE record_id = ANY(%s)", [chunk]
                )
            else:
                cursor.execute(
                    "SELECT record_id FROM usage_usagerecord "
                    "WHERE record_id IN (SELECT value FROM json_each(%s))",
                    [json.dumps(chunk)],
                )
            existing.update(row[0] for row in cursor.fetchall())
    return existing


# --- writing a batch --------------------------------------------------------------------------


def _insert_records(rows: list[tuple[Any, ...]]) -> None:
    columns = ", ".join(_RECORD_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY usage_usagerecord ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(_RECORD_COLUMNS))
            cursor.executemany(
                f"INSERT INTO usage_usagerecord ({columns}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )


def _add_to_buckets(deltas: dict[int, int]) -> None:
    items = sorted((bucket_id, delta) for bucket_id, delta in deltas.items() if delta)
    with connection.cursor() as cursor:
        for chunk in _chunks(items, 5_000):
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"""
                UPDATE lines_bucket SET used = lines_bucket.used + v.delta
                FROM (SELECT column1 AS id, column2 AS delta FROM (VALUES {values}) AS raw) AS v
                WHERE lines_bucket.id = v.id
                """,  # noqa: S608
                [value for pair in chunk for value in pair],
            )


def _add_daily(rollups: dict[tuple[int, dt.date, str], list[int]]) -> None:
    rows = [
        (line_id, day, kind, totals[0], totals[1], totals[2])
        for (line_id, day, kind), totals in rollups.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO usage_dailyusage (line_id, day, kind, units, records, charged_cents)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (line_id, day, kind) DO UPDATE SET
                units = usage_dailyusage.units + excluded.units,
                records = usage_dailyusage.records + excluded.records,
                charged_cents = usage_dailyusage.charged_cents + excluded.charged_cents
            """,
            rows,
        )


def _notification(
    info: _LineInfo, template: str, key: str, context: dict[str, Any], now: dt.datetime
) -> list[Notification]:
    return [
        Notification(
            created_at=now,
            send_after=now,
            recipient_id=info.user_id,
            channel=channel,
            template=template,
            language=info.language,
            line_id=info.account.line_id,
            context=context,
            dedupe_key=f"{key}:{channel}",
            status=NotificationStatus.QUEUED,
        )
        for channel in (Channel.EMAIL, Channel.SMS)
    ]


def _adapt_time(moment: dt.datetime) -> Any:
    if connection.vendor == "postgresql":
        return moment
    return str(moment.replace(tzinfo=None))


# --- one batch ----------------------------------------------------------------------------------


@dataclass
class _BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    charged_cents: int = 0
    debt_cents: int = 0


class _Batch:
    def __init__(self, cdr_import: CdrImport, number: int, now: dt.datetime) -> None:
        self.cdr_import = cdr_import
        self.number = number
        self.now = now
        self.outcome = _BatchOutcome()
        self.zone = business_zone()
        self._days: dict[tuple[int, int, int, int], dt.date] = {}

    def _day(self, moment: dt.datetime) -> dt.date:
        # Toronto's offset changes on whole hours: one conversion per UTC hour.
        key = (moment.year, moment.month, moment.day, moment.hour)
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = moment.astimezone(self.zone).date()
        return day

    def run(
        self,
        rows: list[tuple[int, list[str]]],
        seen: set[str],
        rates: dict[int, rating.Rates],
    ) -> _BatchOutcome:
        outcome = self.outcome
        parsed: list[_Parsed] = []
        check = _check
        for row_number, fields in rows:
            try:
                parsed.append(check(row_number, fields))
            except _Bad as bad:
                outcome.rejected.append(RejectedRow(row_number, str(bad), tuple(fields)))
        self._lock()
        fresh: list[_Parsed] = []
        for item in parsed:
            if item[1] in seen:
                outcome.duplicates += 1
            else:
                seen.add(item[1])
                fresh.append(item)
        if fresh:
            existing = _existing_record_ids([item[1] for item in fresh])
            if existing:
                outcome.duplicates += sum(1 for item in fresh if item[1] in existing)
                fresh = [item for item in fresh if item[1] not in existing]
        if fresh:
            self._rate_and_write(fresh, rates)
        CdrImport.objects.filter(pk=self.cdr_import.pk).update(
            rows_read=F("rows_read") + len(rows),
            applied=F("applied") + outcome.applied,
            duplicates=F("duplicates") + outcome.duplicates,
            rejected=F("rejected") + len(outcome.rejected),
            charged_cents=F("charged_cents") + outcome.charged_cents,
            debt_cents=F("debt_cents") + outcome.debt_cents,
        )
        outcome.rejected.sort(key=lambda reject: reject.row_number)
        return outcome

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

    def _rate_and_write(self, fresh: list[_Parsed], rates: dict[int, rating.Rates]) -> None:
        outcome = self.outcome
        earliest = min(item[6] for item in fresh)
        lines = _load_lines(sorted({item[2] for item in fresh}), earliest, rates)
        by_wallet: dict[int, list[rating.Usage]] = defaultdict(list)
        kept: list[_Parsed] = []
        unknown = gettext("No live line has this msisdn.")
        for item in fresh:
            info = lines.get(item[2])
            if info is None:
                outcome.rejected.append(RejectedRow(item[0], unknown, tuple(item[8])))
                continue
            by_wallet[info.subscriber_id].append(
                rating.Usage(
                    len(kept), info.account.line_id, item[3], item[4], item[5], item[6], item[7]
                )
            )
            kept.append(item)
        if not kept:
            return
        wallets = _lock_wallets(list(by_wallet))
        infos = {info.account.line_id: info for info in lines.values()}
        accounts = {line_id: info.account for line_id, info in infos.items()}
        used_before = {
            bucket.id: bucket.used for account in accounts.values() for bucket in account.buckets
        }
        unbarred: list[int] = []
        results: list[rating.Rated | None] = [None] * len(kept)
        legs: list[tuple[LedgerAccount, int]] = []
        for subscriber_id, usages in by_wallet.items():
            account = wallets.get(subscriber_id)
            available = (
                account.cached_balance_cents + account.overdraft_limit_cents if account else 0
            )
            if available > 0:
                for line_id in {usage.line_id for usage in usages}:
                    if accounts[line_id].is_barred:
                        # The wallet has money again (a top-up): chargeable usage is back.
                        accounts[line_id].is_barred = False
                        unbarred.append(line_id)
            wallet = rating.Wallet(available_cents=available)
            for rated in rating.rate_wallet(usages, accounts, wallet):
                results[rated.position] = rated
            if wallet.charged_cents:
                assert account is not None
                legs.append((account, -wallet.charged_cents))
                outcome.charged_cents += wallet.charged_cents

        import_id = self.cdr_import.pk
        postgres = connection.vendor == "postgresql"
        records: list[tuple[Any, ...]] = []
        rollups: dict[tuple[int, dt.date, str], list[int]] = {}
        day_of = self._day
        for item, rated in zip(kept, results, strict=True):
            assert rated is not None
            line_id = lines[item[2]].account.line_id
            moment = item[6]
            records.append(
                (
                    item[1],
                    import_id,
                    line_id,
                    item[3],
                    item[4],
                    item[5],
                    moment if postgres else str(moment.replace(tzinfo=None)),
                    item[7],
                    rated.units,
                    rated.bucket_units,
                    rated.overage_units,
                    rated.free_units,
                    rated.rejected_units,
                    rated.charged_cents,
                    rated.debt_cents,
                    rated.outcome,
                )
            )
            served = rated.units - rated.rejected_units
            if served or rated.charged_cents:
                key = (line_id, day_of(moment), item[3])
                totals = rollups.get(key)
                if totals is None:
                    rollups[key] = [served, 1, rated.charged_cents]
                else:
                    totals[0] += served
                    totals[1] += 1
                    totals[2] += rated.charged_cents
        _insert_records(records)
        outcome.applied = len(records)
        del records

        deltas: dict[int, int] = {}
        notices: list[Notification] = []
        for account in accounts.values():
            info = infos[account.line_id]
            for bucket in account.buckets:
                before = used_before[bucket.id]
                if bucket.used == before:
                    continue
                deltas[bucket.id] = bucket.used - before
                percent = rating.threshold_crossed(bucket.total, before, bucket.used)
                if percent is not None:
                    notices += _notification(
                        info,
                        notifications.BUCKET_100 if percent == 100 else notifications.BUCKET_80,
                        f"usage.bucket:{bucket.id}:{percent}",
                        {
                            "kind": bucket.kind,
                            "source": bucket.source,
                            "percent": percent,
                            "total": bucket.total,
                            "expires_at": bucket.expires_at.isoformat(),
                        },
                        self.now,
                    )
        if deltas:
            _add_to_buckets(deltas)
        if legs:
            revenue = ledger.system_account(REVENUE_ACCOUNT)
            ledger.post_transaction(
                kind=TransactionKind.USAGE_CHARGE,
                entries=[*legs, (revenue, outcome.charged_cents)],
                memo=f"usage of {self.cdr_import.file_name}, batch {self.number}"[:300],
                idempotency_key=f"usage:{import_id}:{self.number}",
                reference=f"cdr_import:{import_id}",
            )
        self._write_lines(accounts, infos, unbarred, notices)
        if rollups:
            _add_daily(rollups)
        if notices:
            Notification.objects.bulk_create(notices, ignore_conflicts=True)

    def _write_lines(
        self,
        accounts: dict[int, rating.Account],
        infos: dict[int, _LineInfo],
        unbarred: list[int],
        notices: list[Notification],
    ) -> None:
        debts = sorted((a.line_id, a.debt_cents) for a in accounts.values() if a.debt_cents)
        barred = sorted(a.line_id for a in accounts.values() if a.newly_barred)
        lifted = sorted(line_id for line_id in unbarred if not accounts[line_id].newly_barred)
        self.outcome.debt_cents += sum(debt for _line, debt in debts)
        with connection.cursor() as cursor:
            for chunk in _chunks(debts):
                values = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(
                    f"""
                    UPDATE lines_line SET usage_debt_cents = lines_line.usage_debt_cents + v.debt
                    FROM (SELECT column1 AS id, column2 AS debt FROM (VALUES {values}) AS raw) AS v
                    WHERE lines_line.id = v.id
                    """,  # noqa: S608
                    [value for pair in chunk for value in pair],
                )
        for chunk in _chunks(barred):
            Line.objects.filter(pk__in=chunk).update(is_barred=True, barred_at=self.now)
        for chunk in _chunks(lifted):
            Line.objects.filter(pk__in=chunk).update(is_barred=False)
        stamp = int(self.now.timestamp())
        for line_id in barred:
            notices += _notification(
                infos[line_id],
                notifications.BARRED,
                f"usage.barred:{line_id}:{stamp}",
                {"debt_cents": accounts[line_id].debt_cents},
                self.now,
            )


# --- the import -------------------------------------------------------------------------------


def import_cdrs(
    source: IO[bytes],
    *,
    file_name: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_reject: Callable[[RejectedRow], None] | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import one CDR file (CSV, or gzip of it) from a binary stream; returns what it did.

    Raises CdrFileRefused when the file is not a CDR CSV (nothing imported),
    or when it stops being readable part-way (the batches before stay
    applied; the report up to there is on the exception's `report`).
    `progress` is called after each batch with the number of rows read so far.
    """
    started = time.perf_counter()
    cdr_import = CdrImport.objects.create(file_name=file_name[:255], started_at=now or timezone.now())
    report = ImportReport(file_name=file_name, cdr_import_id=cdr_import.pk)
    seen: set[str] = set()
    rates: dict[int, rating.Rates] = {}
    number = 0
    try:
        rows_iter = _rows(_text_stream(source))
        while True:
            batch_rows = _take(rows_iter, batch_size)
            if not batch_rows:
                break
            number += 1
            with transaction.atomic():
                outcome = _Batch(cdr_import, number, now or timezone.now()).run(
                    batch_rows, seen, rates
                )
            report.rows_read += len(batch_rows)
            report.applied += outcome.applied
            report.duplicates += outcome.duplicates
            report.rejected += len(outcome.rejected)
            report.charged_cents += outcome.charged_cents
            report.debt_cents += outcome.debt_cents
            for reject in outcome.rejected:
                if len(report.first_rejects) < REJECTS_KEPT:
                    report.first_rejects.append(reject)
                if on_reject is not None:
                    on_reject(reject)
            if progress is not None:
                progress(report.rows_read)
    except CdrFileRefused as refusal:
        _finish(cdr_import, ImportStatus.REFUSED, refusal.message)
        refusal.details["report"] = report
        raise
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        _finish(cdr_import, ImportStatus.REFUSED, str(error))
        refused = CdrFileRefused(
            gettext("The file cannot be read: %(detail)s") % {"detail": error}, report=report
        )
        raise refused from error
    except BaseException as error:
        _finish(cdr_import, ImportStatus.FAILED, type(error).__name__)
        raise
    _finish(cdr_import, ImportStatus.FINISHED, "")
    report.seconds = time.perf_counter() - started
    return report


def _take(rows: Iterator[tuple[int, list[str]]], count: int) -> list[tuple[int, list[str]]]:
    taken: list[tuple[int, list[str]]] = []
    append = taken.append
    for row in rows:
        if not row[1] or (len(row[1]) == 1 and not row[1][0].strip()):
            continue  # a blank line
        append(row)
        if len(taken) >= count:
            break
    return taken


def _finish(cdr_import: CdrImport, status: str, message: str) -> None:
    CdrImport.objects.filter(pk=cdr_import.pk).update(
        status=status, finished_at=timezone.now(), message=message[:300]
    )
