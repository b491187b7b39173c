"""The import's pipeline: the next frame read in a thread while one is rated, a batch's large
first frame rated and written in two parts, SQLite's records by 100-row INSERTs, the lines'
debt and bars by one UPDATE. Each path must give what the plain one gives."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.kit.time import business_zone
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerTransaction
from simcare.lines.models import Bucket, Line
from simcare.notify.models import Notification
from simcare.usage import services
from simcare.usage.errors import CdrFileRefused
from simcare.usage.models import CdrImport, DailyUsage, ImportStatus, UsageRecord
from tests.usage.conftest import NOW, balance, cdr_bytes, fund, run_import

pytestmark = pytest.mark.django_db

MakeLine = Callable[..., Line]
_RECORD_FIELDS = (
    "record_id",
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


class _Rollback(Exception):
    pass


@pytest.fixture
def small_plan(make_plan: Callable[..., Plan]) -> Plan:
    return make_plan(
        code="pipe10",
        data_mb=2,
        voice_minutes=30,
        sms_messages=20,
        overage_data_cents_per_mb=3,
        overage_voice_cents_per_minute=2,
        overage_sms_cents=1,
        us_voice_cents_per_minute=10,
        intl_sms_cents=20,
    )


def _file(lines: list[Line], count: int) -> bytes:
    """`count` records in time order over the lines: data, calls both ways, texts, roaming."""
    rows = []
    for n in range(count):
        line = lines[n % len(lines)]
        at = (NOW + dt.timedelta(seconds=337 * n)).isoformat()  # 20 days: 180 rollup rows
        kind = ("data", "voice", "sms", "voice")[n % 4]
        zone = ("CA", "CA", "US", "INTL", "CA")[n % 5]
        direction = "" if kind == "data" else ("out", "in")[n % 3 == 0]
        quantity = {"data": 40_000 + 97 * n, "voice": 45 + n % 200, "sms": 1}[kind]
        rows.append(f"p{n:06d},{line.msisdn},{kind},{at},{quantity},{zone},{direction}")
    return cdr_bytes(*rows)


def _state(lines: list[Line], subscribers: list[Subscriber]) -> tuple[Any, ...]:
    """What an import leaves: every record, bucket, line, wallet, rollup and notification."""
    line_ids = [line.pk for line in lines]
    records = list(
        UsageRecord.objects.filter(line_id__in=line_ids)
        .order_by("record_id")
        .values_list(*_RECORD_FIELDS)
    )
    return (
        records,
        sorted(Bucket.objects.filter(line_id__in=line_ids).values_list("kind", "source", "used")),
        sorted(
            Line.objects.filter(pk__in=line_ids).values_list(
                "msisdn", "usage_debt_cents", "is_barred", "barred_at"
            )
        ),
        [balance(subscriber) for subscriber in subscribers],
        ledger_queries.balance_cents(ledger.system_account("revenue:usage")),
        LedgerTransaction.objects.filter(kind="usage_charge").count(),
        sorted(
            DailyUsage.objects.filter(line_id__in=line_ids).values_list(
                "line__msisdn", "day", "kind", "units", "records", "charged_cents"
            )
        ),
        sorted(
            (msisdn, template, channel, json.dumps(context, sort_keys=True))
            for msisdn, template, channel, context in Notification.objects.filter(
                template__startswith="usage."
            ).values_list("line__msisdn", "template", "channel", "context")
        ),
    )


def test_a_large_first_frame_in_two_parts_gives_what_small_frames_give(
    make_line: MakeLine, make_subscriber: Callable[..., Subscriber], small_plan: Plan
) -> None:
    # given three lines on two wallets, one of which runs dry (debt, bars), and a file whose
    # one frame is large enough to be rated and written in two parts (and, on SQLite, in
    # 100-row INSERTs with a remainder)
    subscribers = [make_subscriber(), make_subscriber()]
    lines = [make_line(subscribers[0], small_plan) for _ in range(2)]
    lines.append(make_line(subscribers[1], small_plan))
    fund(subscribers[0], 2_000)
    fund(subscribers[1], 150)
    count = services._HEAD_MIN + 1_037
    data = _file(lines, count)
    # when it is imported with frames too small to be split, measured and undone
    try:
        with transaction.atomic():
            plain = run_import(data, frame_size=1_000)
            expected = _state(lines, subscribers)
            raise _Rollback
    except _Rollback:
        pass
    assert plain.applied == count
    assert UsageRecord.objects.count() == 0
    # and then with one frame of the whole file (its first quarter written while the rest
    # is rated)
    report = run_import(data)
    # then every record, bucket, line, wallet, ledger posting, rollup and message is the same
    assert (report.applied, report.charged_cents, report.debt_cents) == (
        plain.applied,
        plain.charged_cents,
        plain.debt_cents,
    )
    assert report.debt_cents > 0  # the small wallet ran dry: debts and a bar were written
    got = _state(lines, subscribers)
    assert got == expected
    assert len(got[6]) > 100
    assert got[6] == _rollups_from_records()
    assert any(barred for _msisdn, _debt, barred, _at in got[2])
    assert ledger_queries.find_breaks() == []
    # and a re-import changes nothing
    again = run_import(data)
    assert (again.applied, again.duplicates) == (0, count)
    assert _state(lines, subscribers) == expected


def _rollups_from_records() -> list[tuple[Any, ...]]:
    """The daily rollups summed from the stored records (business day, served units)."""
    sums: dict[tuple[str, dt.date, str], list[int]] = {}
    for record in UsageRecord.objects.select_related("line"):
        served = record.units - record.rejected_units
        if served <= 0 and record.charged_cents <= 0:
            continue
        day = record.started_at.astimezone(business_zone()).date()
        row = sums.setdefault((record.line.msisdn, day, record.kind), [0, 0, 0])
        row[0] += served
        row[1] += 1
        row[2] += record.charged_cents
    return sorted((*key, *values) for key, values in sums.items())


def test_many_thresholds_in_one_batch_queue_each_message_once(
    make_line: MakeLine, make_subscriber: Callable[..., Subscriber], small_plan: Plan
) -> None:
    # given 60 lines with 30 minutes each
    lines = [make_line(make_subscriber(), small_plan) for _ in range(60)]
    at = (NOW + dt.timedelta(minutes=1)).isoformat()
    data = cdr_bytes(
        *(f"c{n},{line.msisdn},voice,{at},{31 * 60},CA,out" for n, line in enumerate(lines))
    )
    # when each line's call takes all its minutes (120 outbox rows: several 100-row INSERTs)
    run_import(data)
    # then each line is told once by email and once by SMS, with its bucket's key
    queued = sorted(
        Notification.objects.filter(template="usage.bucket_100").values_list(
            "line_id", "channel", "dedupe_key", "status"
        )
    )
    buckets = dict(Bucket.objects.filter(kind="voice").values_list("line_id", "pk"))
    assert queued == sorted(
        (line.pk, channel, f"usage.bucket:{buckets[line.pk]}:100:{channel}", "queued")
        for line in lines
        for channel in ("email", "sms")
    )
    # and importing the file again queues nothing more
    run_import(data)
    assert Notification.objects.filter(template="usage.bucket_100").count() == 120


def test_a_bar_lifted_and_a_debt_added_in_one_batch_are_written_together(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a barred line whose wallet was topped up, and a second, unbarred line
    barred, other = make_line(subscriber, small_plan), make_line(subscriber, small_plan)
    Line.objects.filter(pk=barred.pk).update(is_barred=True, barred_at=NOW, usage_debt_cents=70)
    fund(subscriber, 5)
    at = (NOW + dt.timedelta(minutes=1)).isoformat()
    # when the barred line calls (the bar lifts: the wallet has money) and the other line
    # runs past the wallet (a debt and a new bar), one batch
    report = run_import(
        cdr_bytes(
            f"l1,{barred.msisdn},sms,{at},1,CA,out",
            f"l2,{other.msisdn},voice,{at},{3600 * 2},US,out",
        )
    )
    assert report.applied == 2
    barred.refresh_from_db()
    other.refresh_from_db()
    # then the first line's bar is lifted, its old debt kept; the second owes and is barred
    assert (barred.is_barred, barred.usage_debt_cents, barred.barred_at) == (False, 70, NOW)
    assert other.is_barred
    assert other.barred_at == NOW
    assert other.usage_debt_cents == report.debt_cents > 0
    assert balance(subscriber) == 0


def test_a_file_damaged_in_a_frame_read_ahead_keeps_the_frames_before(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a gzip file cut short, read in frames of 50 within batches of 300 (each next frame
    # read ahead, in a thread, while one is rated)
    line = make_line(subscriber, small_plan)
    rows = [f"z{n:04d},{line.msisdn},sms,{NOW.isoformat()},1,CA,out" for n in range(700)]
    damaged = gzip.compress(cdr_bytes(*rows))[:-40]
    try:
        with transaction.atomic():
            with pytest.raises(CdrFileRefused):
                run_import(damaged, batch_size=50, frame_size=50)  # nothing read ahead
            expected = sorted(UsageRecord.objects.values_list("record_id", flat=True))
            raise _Rollback
    except _Rollback:
        pass
    assert len(expected) >= 300
    # when it is imported
    with pytest.raises(CdrFileRefused) as refused:
        run_import(damaged, batch_size=300, frame_size=50)
    # then the read error came where the damage is: every frame before it stays applied
    partial = refused.value.details["report"]
    assert partial.applied == len(expected)
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == expected


def test_rows_rejected_in_a_frame_read_ahead_are_explained_in_the_active_language(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a file whose bad row is in its third frame (read ahead in a thread)
    line = make_line(subscriber, small_plan)
    rows = [f"f{n},{line.msisdn},sms,{NOW.isoformat()},1,CA,out" for n in range(5)]
    rows.append(f"f5,{line.msisdn},sms,{NOW.isoformat()},1,MARS,out")
    # when it is imported in French
    with translation.override("fr"):
        report = run_import(cdr_bytes(*rows), frame_size=2)
        expected = gettext("zone must be CA, US or INTL.")
    # then the reason is the French one
    assert expected != "zone must be CA, US or INTL."
    assert (report.applied, report.rejected) == (5, 1)
    assert [(r.row_number, r.reason) for r in report.first_rejects] == [(7, expected)]


class _HookAt:
    """A file read line by line that runs `hook` when line `at` is read: here, inside the
    transaction of the batch that line starts (the first frame of a batch is read in the
    import's own thread)."""

    def __init__(self, data: bytes, at: int, hook: Callable[[], object]) -> None:
        self.lines = data.splitlines(keepends=True)
        self.at = at
        self.hook = hook
        self.index = 0

    def peek(self, size: int = 1) -> bytes:
        return self.lines[self.index][: max(size, 1)]

    def readline(self) -> bytes:
        return next(self)

    def __iter__(self) -> _HookAt:
        return self

    def __next__(self) -> bytes:
        if self.index >= len(self.lines):
            raise StopIteration
        if self.index == self.at:
            self.hook()
        self.index += 1
        return self.lines[self.index - 1]


def test_a_failing_write_at_the_end_of_a_batch_undoes_that_batch_only(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a file of two batches, and a bucket shrunk under the import's feet in the second
    # batch's transaction (its usage then breaks the bucket's used <= total check when the
    # batch's end writes it: on PostgreSQL inside the pipeline)
    line = make_line(subscriber, small_plan)
    at = (NOW + dt.timedelta(minutes=1)).isoformat()
    data = cdr_bytes(
        f"e1,{line.msisdn},voice,{at},60,CA,out",
        f"e2,{line.msisdn},voice,{at},600,CA,out",
    )
    voice = Bucket.objects.get(line=line, kind="voice")

    def shrink() -> None:
        Bucket.objects.filter(pk=voice.pk).update(total=2)

    # when it is imported (PostgreSQL's error comes from the raw psycopg cursor)
    with pytest.raises((IntegrityError, psycopg.errors.IntegrityError)):
        services.import_cdrs(
            _HookAt(data, 2, shrink),  # type: ignore[arg-type]
            file_name="e.csv",
            batch_size=1,
            now=NOW,
        )
    # then the first batch stays, the second is undone whole (its records, its bucket
    # change, the shrinking done in its transaction), and the import is marked failed
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["e1"]
    voice.refresh_from_db()
    assert (voice.total, voice.used) == (30, 1)
    assert CdrImport.objects.get(file_name="e.csv").status == ImportStatus.FAILED
    # and the connection works on: importing again completes the file
    report = run_import(data)
    assert (report.applied, report.duplicates) == (1, 1)
    voice.refresh_from_db()
    assert voice.used == 11
