"""Batches of many frames: per-line writes once per batch, crash safety, other imports between.

A batch (`batch_size` rows) is one database transaction; its rows are read, rated and written
`frame_size` at a time, while bucket usage, wallet charges, debt, rollups and notifications are
summed per line and written once at the end of the batch.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan
from simcare.ledger.models import LedgerEntry, LedgerTransaction
from simcare.lines.models import Bucket, Line
from simcare.notify.models import Notification
from simcare.orders.models import Order
from simcare.orders.services import autorenew
from simcare.usage import services
from simcare.usage.models import CdrImport, DailyUsage, ImportStatus, UsageRecord
from tests.usage.conftest import NOW, balance, cdr_bytes, fund, run_import

pytestmark = pytest.mark.django_db

MakeLine = Callable[..., Line]
AT = "2026-12-01T10:00:00-05:00"  # = NOW


class _Rollback(Exception):
    pass


@pytest.fixture
def small_plan(make_plan: Callable[..., Plan]) -> Plan:
    return make_plan(
        code="small10",
        data_mb=1,
        voice_minutes=10,
        sms_messages=5,
        overage_data_cents_per_mb=100,
        overage_voice_cents_per_minute=5,
        overage_sms_cents=10,
        us_voice_cents_per_minute=25,
        intl_sms_cents=50,
    )


def test_a_batch_of_many_frames_writes_each_line_once(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a line with 10 minutes and a wallet of $1.00
    line = make_line(subscriber, small_plan)
    fund(subscriber, 100)
    # when 14 one-minute calls are imported in one batch read two rows at a time
    report = run_import(
        cdr_bytes(
            *(
                f"b{n},{line.msisdn},voice,{(NOW + dt.timedelta(minutes=n)).isoformat()},60,CA,out"
                for n in range(14)
            )
        ),
        batch_size=1_000,
        frame_size=2,
    )
    # then every record is rated in order across the frames
    assert (report.rows_read, report.applied) == (14, 14)
    assert Bucket.objects.get(line=line, kind="voice").used == 10
    assert report.charged_cents == 4 * 5
    assert balance(subscriber) == 80
    # and the line's effects were written once: one ledger transaction, one rollup row,
    # one threshold message (80% and 100% crossed in the same batch: 100% only)
    assert LedgerTransaction.objects.filter(kind="usage_charge").count() == 1
    assert list(DailyUsage.objects.values_list("kind", "units", "records", "charged_cents")) == [
        ("voice", 14, 14, 20)
    ]
    assert sorted(
        Notification.objects.filter(line=line, template__startswith="usage.").values_list(
            "template", "channel"
        )
    ) == [("usage.bucket_100", "email"), ("usage.bucket_100", "sms")]
    cdr_import = CdrImport.objects.get(pk=report.cdr_import_id)
    assert (cdr_import.rows_read, cdr_import.applied, cdr_import.charged_cents) == (14, 14, 20)


class _Killed(BaseException):
    """What stops the process (as SIGINT's KeyboardInterrupt does)."""


class _DiesAfter(io.RawIOBase):
    """A file whose reading stops the process after `limit` bytes: the import is killed
    part-way through a batch (not a read error of the file, which keeps what came before)."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.limit:
            raise _Killed
        chunk = self.data[self.position : min(self.position + len(buffer), self.limit)]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def _usage_file(lines: list[Line], count: int) -> bytes:
    rng = random.Random(30)
    rows = []
    for n in range(count):
        kind = rng.choice(("data", "voice", "sms"))
        quantity = {"data": rng.randrange(0, 300_000), "voice": rng.randrange(0, 200), "sms": 1}[
            kind
        ]
        direction = "" if kind == "data" else rng.choice(("out", "out", "in"))
        zone = rng.choice(("CA", "CA", "CA", "US", "INTL"))
        moment = NOW - dt.timedelta(hours=2) + dt.timedelta(seconds=n * 7)
        rows.append(
            f"k{n:05d},{rng.choice(lines).msisdn},{kind},{moment.isoformat()},{quantity},"
            f"{zone},{direction}"
        )
    return cdr_bytes(*rows)


def _state(lines: list[Line], subscriber: Subscriber) -> tuple[object, ...]:
    records = sorted(
        UsageRecord.objects.values_list(
            "record_id",
            "line_id",
            "units",
            "bucket_units",
            "overage_units",
            "free_units",
            "rejected_units",
            "charged_cents",
            "debt_cents",
            "outcome",
        )
    )
    return (
        records,
        sorted(Bucket.objects.filter(line__in=lines).values_list("id", "used")),
        sorted(
            Line.objects.filter(pk__in=[line.pk for line in lines]).values_list(
                "id", "is_barred", "usage_debt_cents"
            )
        ),
        balance(subscriber),
        sum(
            LedgerEntry.objects.filter(
                transaction__kind="usage_charge", account__code="revenue:usage"
            ).values_list("amount_cents", flat=True)
        ),
        sorted(
            DailyUsage.objects.values_list(
                "line_id", "day", "kind", "units", "records", "charged_cents"
            )
        ),
        sorted(
            Notification.objects.filter(template__startswith="usage.").values_list(
                "template", "channel", "dedupe_key"
            )
        ),
    )


def test_an_import_killed_part_way_and_run_again_gives_the_same_result(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given two lines on one wallet of $2.50 and a file of 600 records
    lines = [make_line(subscriber, small_plan) for _ in range(2)]
    fund(subscriber, 250)
    data = _usage_file(lines, 600)
    options: dict[str, Any] = {"batch_size": 120, "frame_size": 40}
    # the result of one clean import, measured and undone
    try:
        with transaction.atomic():
            clean = run_import(data, **options)
            expected = _state(lines, subscriber)
            raise _Rollback
    except _Rollback:
        pass
    assert clean.applied == 600
    assert expected[0]  # records
    assert expected[5]  # and rollups were written
    assert UsageRecord.objects.count() == 0

    # when an import dies part-way through a batch (the process is stopped while reading)
    with pytest.raises(_Killed):
        services.import_cdrs(
            _DiesAfter(data, len(data) * 2 // 3), file_name="k.csv", now=NOW, **options
        )
    killed = CdrImport.objects.get(file_name="k.csv")
    assert killed.status == ImportStatus.FAILED
    kept = UsageRecord.objects.count()
    # then the batches before it stay, the one it was in is undone whole
    assert 0 < kept < 600
    assert kept % 120 == 0
    assert killed.applied == kept

    # and when the file is imported again, the result is that of one clean import
    again = run_import(data, **options)
    assert (again.applied, again.duplicates) == (600 - kept, kept)
    assert _state(lines, subscriber) == expected


class _Between:
    """A file read line by line that runs `hook` when line `at` is reached: what another
    import does between two batches of this one (their transactions take turns)."""

    def __init__(self, data: bytes, at: int, hook: Callable[[], object]) -> None:
        self.lines = data.splitlines(keepends=True)
        self.at = at
        self.hook = hook
        self.index = 0

    def peek(self, size: int = 1) -> bytes:
        return self.lines[self.index][: max(size, 1)]

    def readline(self) -> bytes:
        return next(self)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.index == self.at:
            self.hook()
        if self.index >= len(self.lines):
            raise StopIteration
        self.index += 1
        return self.lines[self.index - 1]


def test_another_import_between_two_batches_is_seen_by_the_next_batch(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a line with 10 minutes
    line = make_line(subscriber, small_plan)
    fund(subscriber, 100)
    minute = dt.timedelta(minutes=1)
    other = cdr_bytes(f"o1,{line.msisdn},voice,{(NOW + minute).isoformat()},300,CA,out")
    data = cdr_bytes(
        f"a1,{line.msisdn},voice,{NOW.isoformat()},240,CA,out",
        f"a2,{line.msisdn},voice,{(NOW + 2 * minute).isoformat()},180,CA,out",
    )
    # when another import (5 minutes) runs between the batches of this one (4, then 3 minutes)
    report = services.import_cdrs(
        _Between(data, 2, lambda: run_import(other)),  # type: ignore[arg-type]
        file_name="a.csv",
        batch_size=1,
        now=NOW,
    )
    # then the second batch rates against the buckets as the other import left them
    assert report.applied == 2
    assert Bucket.objects.get(line=line, kind="voice").used == 10
    assert UsageRecord.objects.get(record_id="a2").bucket_units == 1
    assert UsageRecord.objects.get(record_id="a2").overage_units == 2
    assert balance(subscriber) == 100 - 2 * 5


def test_a_line_whose_data_runs_low_buys_its_auto_top_up_and_the_next_batch_uses_it(
    make_line: MakeLine, subscriber: Subscriber, small_plan: Plan
) -> None:
    # given a line with 1 MB of data that chose a 2 MB auto-top-up under 1 MB left
    line = make_line(subscriber, small_plan)
    topup = AddOn.objects.create(
        code="data2",
        name_en="2 MB",
        name_fr="2 Mo",
        name_zh_hans="2MB",
        kind="data",
        quantity=2,
        price_cents=100,
        validity_days=7,
    )
    autorenew.set_auto_renew(
        line, enabled=False, data_topup_addon=topup, threshold_kb=1024, acting_user=None
    )
    fund(subscriber, 5_000)
    later = (NOW + dt.timedelta(minutes=5)).isoformat()
    data = cdr_bytes(
        f"d1,{line.msisdn},data,{AT},{300 * 1024},CA,",
        f"d2,{line.msisdn},data,{later},{1500 * 1024},CA,",
    )
    # when a file is imported one record a batch: the first leaves 724 KB, under the threshold
    report = run_import(data, batch_size=1)
    # then the add-on was bought once, from the wallet, and the second batch rated against it
    assert report.applied == 2
    orders = Order.objects.filter(kind="addon", line=line)
    assert [(o.channel, o.payment_method, o.state) for o in orders] == [
        ("auto", "wallet", "fulfilled")
    ]
    second = UsageRecord.objects.get(record_id="d2")
    assert (second.bucket_units, second.overage_units, second.charged_cents) == (1500, 0, 0)
    assert sorted(Bucket.objects.filter(line=line, kind="data").values_list("source", "used")) == [
        ("addon", 1500),  # add-ons first
        ("plan", 300),
    ]
    # and a re-import buys nothing more
    assert run_import(data).applied == 0
    assert orders.count() == 1
