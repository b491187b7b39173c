"""The CDR import through its real interfaces: services.import_cdrs and `simcare import-cdrs`."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, Plan
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerTransaction
from simcare.lines.models import Bucket, BucketSource, Line, LineState
from simcare.notify.models import Notification
from simcare.usage.errors import CdrFileRefused
from simcare.usage.models import CdrImport, DailyUsage, ImportStatus, UsageRecord
from tests.usage.conftest import NOW, balance, cdr_bytes, fund, run_import

pytestmark = pytest.mark.django_db

MakeLine = Callable[..., Line]
AT = "2026-12-01T10:00:00-05:00"  # = NOW, 15:00 UTC


@pytest.fixture
def metered_plan(make_plan: Callable[..., Plan]) -> Plan:
    return make_plan(
        code="meter10",
        data_mb=1,
        voice_minutes=10,
        sms_messages=5,
        overage_data_cents_per_mb=100,
        overage_voice_cents_per_minute=5,
        overage_sms_cents=10,
        us_voice_cents_per_minute=25,
    )


def state_of(line: Line, subscriber: Subscriber) -> tuple[object, ...]:
    """Everything an import may change, to compare before and after."""
    line.refresh_from_db()
    return (
        UsageRecord.objects.count(),
        sorted(Bucket.objects.filter(line=line).values_list("id", "used")),
        balance(subscriber),
        LedgerTransaction.objects.count(),
        line.is_barred,
        line.usage_debt_cents,
        sorted(DailyUsage.objects.values_list("line_id", "day", "kind", "units", "records")),
        Notification.objects.count(),
    )


def test_a_good_file_is_rated_into_buckets_wallet_and_rollups(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    # given a line with 1 MB, 10 minutes, 5 SMS and $5.00 in the wallet
    line = make_line(subscriber, metered_plan)
    fund(subscriber, 500)
    # when a file with data past the allowance, a call, an incoming call and a US call is imported
    report = run_import(
        cdr_bytes(
            f"r1,{line.msisdn},data,{AT},524288,CA,",
            f"r2,{line.msisdn},data,2026-12-01T10:05:00-05:00,1048577,CA,out",
            f"r3,{line.msisdn},voice,2026-12-01T10:06:00-05:00,61,CA,out",
            f"r4,{line.msisdn},voice,2026-12-01T10:07:00-05:00,600,CA,in",
            f"r5,{line.msisdn},voice,2026-12-01T10:08:00-05:00,120,US,out",
        )
    )
    # then every row is applied and rated by the rules
    assert (report.rows_read, report.applied, report.rejected, report.duplicates) == (5, 5, 0, 0)
    rows = {
        r.record_id: (r.units, r.bucket_units, r.overage_units, r.free_units, r.charged_cents)
        for r in UsageRecord.objects.all()
    }
    assert rows == {
        "r1": (512, 512, 0, 0, 0),
        "r2": (1025, 512, 513, 0, 51),  # 513 KB at $1/MB = 50.1¢ → 51¢
        "r3": (2, 2, 0, 0, 0),
        "r4": (10, 0, 0, 10, 0),
        "r5": (2, 0, 2, 0, 50),
    }
    assert sorted(Bucket.objects.filter(line=line).values_list("kind", "used")) == [
        ("data", 1024),
        ("sms", 0),
        ("voice", 2),
    ]
    assert balance(subscriber) == 500 - 101 == 399
    assert report.charged_cents == 101
    charge = LedgerTransaction.objects.get(kind="usage_charge")
    assert sorted(charge.entries.values_list("account__code", "amount_cents")) == [
        ("revenue:usage", 101),
        (f"wallet:{subscriber.pk}", -101),
    ]
    assert sorted(
        DailyUsage.objects.values_list("day", "kind", "units", "records", "charged_cents")
    ) == [
        (dt.date(2026, 12, 1), "data", 1537, 2, 51),
        (dt.date(2026, 12, 1), "voice", 14, 3, 50),
    ]
    cdr_import = CdrImport.objects.get(pk=report.cdr_import_id)
    assert (cdr_import.status, cdr_import.rows_read, cdr_import.applied, cdr_import.rejected) == (
        ImportStatus.FINISHED,
        5,
        5,
        0,
    )
    assert cdr_import.duration is not None


def test_reimporting_a_file_changes_nothing(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    fund(subscriber, 30)
    data = cdr_bytes(
        *(f"r{n},{line.msisdn},voice,{AT},{60 * n},CA,out" for n in range(1, 8)),
        compress=True,
    )
    first = run_import(data)
    assert first.applied == 7
    before = state_of(line, subscriber)
    # when the same file is imported again, in smaller batches this time
    again = run_import(data, batch_size=3)
    # then nothing changed
    assert (again.applied, again.duplicates, again.rejected) == (0, 7, 0)
    assert state_of(line, subscriber) == before


def test_duplicates_inside_a_file_are_applied_once(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    report = run_import(
        cdr_bytes(
            f"same,{line.msisdn},sms,{AT},1,CA,out",
            f"other,{line.msisdn},sms,{AT},1,CA,out",
            f"same,{line.msisdn},sms,{AT},1,CA,out",
            f"same,{line.msisdn},sms,{AT},1,CA,out",
        ),
        batch_size=2,  # the repeats straddle batches
    )
    assert (report.applied, report.duplicates) == (2, 2)
    assert Bucket.objects.get(line=line, kind="sms").used == 2


def test_ids_seen_before_are_found_whatever_their_order_or_case(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    m = line.msisdn
    run_import(cdr_bytes(f"a,{m},sms,{AT},1,CA,out", f"m,{m},sms,{AT},1,CA,out"))
    # lower and upper case sort differently by bytes and by a database's collation
    report = run_import(
        cdr_bytes(
            f"B,{m},sms,{AT},1,CA,out",
            f"a,{m},sms,{AT},1,CA,out",
            f"Z,{m},sms,{AT},1,CA,out",
            f"m,{m},sms,{AT},1,CA,out",
            f"zz,{m},sms,{AT},1,CA,out",
        )
    )
    assert (report.applied, report.duplicates) == (3, 2)
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == [
        "B",
        "Z",
        "a",
        "m",
        "zz",
    ]


def test_bad_rows_are_reported_by_row_number_and_good_rows_applied(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    m = line.msisdn
    report = run_import(
        cdr_bytes(
            f"ok1,{m},sms,{AT},1,CA,out",  # row 2
            f"bad1,{m},sms,{AT},1,CA",  # 3: a column short (direction missing for SMS)
            f"bad2,{m},sms,{AT},1,CA,out,extra",  # 4: a column too many
            f"bad3,+19999999999,sms,{AT},1,CA,out",  # 5: unknown number
            f"bad4,4165550142,sms,{AT},1,CA,out",  # 6: not E.164
            f"bad5,{m},fax,{AT},1,CA,out",  # 7: bad type
            f"bad6,{m},voice,{AT},-60,CA,out",  # 8: negative
            f"bad7,{m},voice,{AT},6o,CA,out",  # 9: not a number
            f"bad8,{m},voice,2026-12-01T10:00:00,60,CA,out",  # 10: no offset
            f"bad9,{m},voice,yesterday,60,CA,out",  # 11: bad time
            f"bad10,{m},voice,{AT},60,MARS,out",  # 12: bad zone
            f"bad11,{m},voice,{AT},60,CA,sideways",  # 13: bad direction
            "",  # 14: a blank line is skipped, not rejected
            f",{m},voice,{AT},60,CA,out",  # 15: no record_id
            f"ok2,{m},data,{AT},2048,CA,",  # 16
        )
    )
    assert (report.rows_read, report.applied, report.rejected) == (14, 2, 12)
    reasons = {reject.row_number: reject.reason for reject in report.first_rejects}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15]
    assert reasons[3] == "direction must be out or in."
    assert reasons[4].startswith("Expected 7 columns")
    assert reasons[5] == "No live line has this msisdn."
    assert reasons[6].startswith("msisdn must be an E.164 number")
    assert reasons[7] == "type must be data, voice or sms."
    assert reasons[8] == "quantity must not be negative."
    assert reasons[9].startswith("quantity must be a whole number")
    assert reasons[10] == reasons[11] == "started_at must be an ISO 8601 time with an offset."
    assert reasons[12] == "zone must be CA, US or INTL."
    assert reasons[13] == "direction must be out or in."
    assert reasons[15] == "record_id must be 1 to 100 characters."
    assert report.first_rejects[2].raw == ("bad3", "+19999999999", "sms", AT, "1", "CA", "out")
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok1", "ok2"]


def test_invalid_utf8_rows_are_rejected_and_a_truncated_gzip_keeps_what_came_before(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    rows = [f"s{n},{line.msisdn},sms,{AT},1,CA,out" for n in range(4)]
    data = cdr_bytes(*rows).replace(b"s3,", b"s\xff3,")
    report = run_import(data)
    assert (report.applied, report.rejected) == (3, 1)
    assert report.first_rejects[0].row_number == 5
    assert report.first_rejects[0].reason == "This row is not valid UTF-8 text."

    truncated = cdr_bytes(*(f"t{n},{line.msisdn},sms,{AT},1,CA,out" for n in range(400)))
    compressed = gzip.compress(truncated)[:-40]
    with pytest.raises(CdrFileRefused) as refused:
        run_import(compressed, batch_size=100)
    partial = refused.value.details["report"]
    assert partial.applied >= 100  # the batches before the damage stay applied
    assert UsageRecord.objects.filter(record_id__startswith="t").count() == partial.applied
    assert CdrImport.objects.order_by("-id").first().status == ImportStatus.REFUSED


def test_columns_in_another_order_are_read_by_name(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    report = run_import(
        cdr_bytes(
            f"sms,{line.msisdn},r1,CA,out,1,{AT}",
            header="type,msisdn,record_id,zone,direction,quantity,started_at",
        )
    )
    assert report.applied == 1
    assert UsageRecord.objects.get().record_id == "r1"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x01\x02\xff\xfe binary junk",
        b"record_id,msisdn,type\nr1,+14165550142,sms\n",
        gzip.compress(b"%PDF-1.4 not a csv"),
    ],
)
def test_a_file_that_is_not_a_cdr_csv_is_refused_whole(data: bytes) -> None:
    with pytest.raises(CdrFileRefused):
        run_import(data)
    assert UsageRecord.objects.count() == 0
    assert CdrImport.objects.get().status == ImportStatus.REFUSED


def test_no_service_outside_active_and_free_incoming_in_grace(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan, now=NOW - dt.timedelta(days=31))
    Line.objects.filter(pk=line.pk).update(state=LineState.GRACE)
    fund(subscriber, 500)
    run_import(
        cdr_bytes(
            f"out,{line.msisdn},voice,{AT},60,CA,out",
            f"in,{line.msisdn},voice,{AT},60,CA,in",
            f"data,{line.msisdn},data,{AT},60,CA,",
        )
    )
    outcomes = dict(UsageRecord.objects.values_list("record_id", "outcome"))
    assert outcomes == {"out": "rejected_state", "in": "free", "data": "rejected_state"}
    assert balance(subscriber) == 500
    assert not Bucket.objects.filter(line=line, used__gt=0).exists()


def test_a_short_wallet_leaves_debt_bars_the_line_and_tells_the_subscriber_once(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    fund(subscriber, 12)
    Bucket.objects.filter(line=line, kind="voice").update(used=10)
    report = run_import(
        cdr_bytes(
            f"c1,{line.msisdn},voice,{AT},180,CA,out",  # 15¢: 12 paid, 3 owed → barred
            f"c2,{line.msisdn},voice,2026-12-01T10:05:00-05:00,60,CA,out",  # barred: rejected
            f"c3,{line.msisdn},sms,2026-12-01T10:06:00-05:00,1,CA,out",  # bucket: still served
        )
    )
    assert (report.charged_cents, report.debt_cents) == (12, 3)
    line.refresh_from_db()
    assert (line.is_barred, line.usage_debt_cents, balance(subscriber)) == (True, 3, 0)
    assert line.barred_at == NOW
    records = {
        r.record_id: (r.outcome, r.charged_cents, r.debt_cents, r.rejected_units)
        for r in UsageRecord.objects.all()
    }
    assert records == {
        "c1": ("rated", 12, 3, 0),
        "c2": ("rejected_barred", 0, 0, 1),
        "c3": ("rated", 0, 0, 0),
    }
    barred_notices = Notification.objects.filter(template="usage.barred", line=line)
    assert sorted(barred_notices.values_list("channel", flat=True)) == ["email", "sms"]

    # a later file while still barred and broke: no new debt, no second message
    run_import(cdr_bytes(f"c4,{line.msisdn},voice,2026-12-01T11:00:00-05:00,60,CA,out"))
    line.refresh_from_db()
    assert line.usage_debt_cents == 3
    assert barred_notices.count() == 2

    # a top-up lifts the bar at the next import
    fund(subscriber, 100)
    run_import(cdr_bytes(f"c5,{line.msisdn},voice,2026-12-01T12:00:00-05:00,60,CA,out"))
    line.refresh_from_db()
    assert line.is_barred is False
    assert UsageRecord.objects.get(record_id="c5").charged_cents == 5
    assert balance(subscriber) == 95


def test_thresholds_notify_once_per_bucket(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    sms = Bucket.objects.get(line=line, kind="sms")  # 5 messages

    def sent() -> list[tuple[str, str]]:
        return sorted(
            Notification.objects.filter(template__startswith="usage.bucket").values_list(
                "template", "channel"
            )
        )

    run_import(cdr_bytes(*(f"s{n},{line.msisdn},sms,{AT},1,CA,out" for n in range(3))))
    assert sent() == []  # 3/5 = 60%
    run_import(cdr_bytes(f"s3,{line.msisdn},sms,{AT},1,CA,out"))  # 4/5 = 80%
    assert sent() == [("usage.bucket_80", "email"), ("usage.bucket_80", "sms")]
    run_import(cdr_bytes(f"s4,{line.msisdn},sms,{AT},1,CA,out"))  # 5/5
    run_import(cdr_bytes(f"s5,{line.msisdn},sms,{AT},1,CA,out"))  # overage: nothing new
    assert sent() == [
        ("usage.bucket_100", "email"),
        ("usage.bucket_100", "sms"),
        ("usage.bucket_80", "email"),
        ("usage.bucket_80", "sms"),
    ]
    notice = Notification.objects.get(template="usage.bucket_100", channel="email")
    assert notice.context["percent"] == 100
    assert notice.dedupe_key == f"usage.bucket:{sms.pk}:100:email"


def test_an_addon_bucket_is_used_before_the_plan(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    addon = AddOn.objects.create(
        code="talk5",
        name_en="5 minutes",
        name_fr="5 minutes",
        name_zh_hans="5分钟",
        kind="voice",
        quantity=5,
        price_cents=100,
        validity_days=3,
    )
    Bucket.objects.create(
        line=line,
        kind="voice",
        zone="CA",
        source=BucketSource.ADDON,
        addon=addon,
        total=5,
        starts_at=NOW - dt.timedelta(days=1),
        expires_at=NOW + dt.timedelta(days=2),
    )
    run_import(cdr_bytes(f"v1,{line.msisdn},voice,{AT},420,CA,out"))  # 7 minutes
    used = dict(Bucket.objects.filter(line=line, kind="voice").values_list("source", "used"))
    assert used == {"addon": 5, "plan": 2}


def test_the_command_exits_3_and_writes_the_rejects_report(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan, tmp_path: Path
) -> None:
    line = make_line(subscriber, metered_plan)
    source = tmp_path / "cdrs.csv.gz"
    source.write_bytes(
        cdr_bytes(
            f"g1,{line.msisdn},sms,{AT},1,CA,out",
            f"b1,{line.msisdn},sms,{AT},-1,CA,out",
            compress=True,
        )
    )
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(CommandError) as raised:
        call_command("import_cdrs", str(source), "--rejects", str(rejects))
    assert raised.value.returncode == 3
    with rejects.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        [
            "file",
            "row_number",
            "reason",
            "record_id",
            "msisdn",
            "type",
            "started_at",
            "quantity",
            "zone",
            "direction",
        ],
        [
            "cdrs.csv.gz",
            "3",
            "quantity must not be negative.",
            "b1",
            line.msisdn,
            "sms",
            AT,
            "-1",
            "CA",
            "out",
        ],
    ]
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["g1"]


def test_the_command_exits_0_when_all_applied_and_2_when_a_file_is_refused(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan, tmp_path: Path
) -> None:
    line = make_line(subscriber, metered_plan)
    good = tmp_path / "good.csv"
    good.write_bytes(cdr_bytes(f"g1,{line.msisdn},sms,{AT},1,CA,out"))
    call_command("import_cdrs", str(good))  # exit 0: no error raised
    call_command("import_cdrs", str(good))  # again: all duplicates, still 0
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(CommandError) as raised:
        call_command("import_cdrs", str(junk), str(good))
    assert raised.value.returncode == 2
    with pytest.raises(CommandError) as missing:
        call_command("import_cdrs", str(tmp_path / "missing.csv"))
    assert missing.value.returncode == 2
    assert UsageRecord.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL COPY path")
@pytest.mark.postgres
def test_postgres_copy_path_stores_exact_times(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    run_import(cdr_bytes(f"t1,{line.msisdn},sms,2026-12-01T10:00:00.123456-05:00,1,CA,out"))
    assert UsageRecord.objects.get().started_at == dt.datetime(
        2026, 12, 1, 15, 0, 0, 123456, tzinfo=dt.UTC
    )


def test_wallet_sums_hold_under_ledger_verify(
    make_line: MakeLine, subscriber: Subscriber, metered_plan: Plan
) -> None:
    line = make_line(subscriber, metered_plan)
    fund(subscriber, 40)
    run_import(cdr_bytes(*(f"v{n},{line.msisdn},voice,{AT},{600 * n},US,out" for n in range(1, 4))))
    call_command("ledger", "verify")  # exits 0: raises on any break
    wallet = ledger.wallet_for(subscriber)
    assert wallet.cached_balance_cents >= 0
