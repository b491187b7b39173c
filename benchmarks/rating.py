"""CDR import + rating benchmark: records/s end to end, beside a bare bulk insert of the same rows.

    python benchmarks/rating.py [--records N] [--lines L] [--database sqlite|postgres|both]
                                [--batch-size B] [--gzip] [--json]

For each database it builds a throwaway one (a SQLite file in a temporary
directory; a fresh PostgreSQL database on the server of DATABASE_URL, or the
dev server postgres://postgres@127.0.0.1:55432, created and dropped here),
migrates it and loads L lines (default 10,000; ten lines per subscriber) in
SQL, each with the plan's data/voice/SMS buckets, a quarter of them with a
data add-on, and every wallet funded with $3 through one ledger
transaction. It writes a CDR file of N records (default 1,000,000) over one
day: 60% data (up to 2 MB a record), 30% voice, 10% SMS; 90% CA, 7% US, 3%
INTL; a third of the calls and texts incoming. Allowances are small, so
many lines go into overage, some wallets run dry (debt, barring) and the
thresholds fire. Then, in the same run and database, it times:

- the import: `simcare.usage.services.import_cdrs` on the file, the code
  `simcare import-cdrs` runs: parse, dedupe, rate, persist records, buckets,
  ledger, debt, daily rollups, notifications;
- the baseline: the same N rows the import stored (read back, rated values
  included, built into tuples before the clock starts) bulk-inserted into a
  copy of the records table (same columns and unique index) by the same
  method (COPY of polars-rendered CSV on PostgreSQL; on SQLite one
  executemany of 100-row INSERTs on the raw sqlite3 cursor, the parameters
  flattened before the clock), a transaction per batch and a statement per
  frame, as the import does; no parsing, no rating. On SQLite the one-row
  executemany on Django's cursor of the earlier rounds is printed beside it.
  The earlier baseline, the file's rows unrated (units = quantity, zeros
  elsewhere: smaller rows, as SQLite stores 0 and 1 in no bytes), is
  printed beside it too.

It prints records/s for both, their ratio, the same in CPU seconds (this
process and its PostgreSQL backend, steadier than wall time on a machine
shared with other work), the import's stages, and the process's peak
resident memory (getrusage) before and after the import: run it with a larger N to
see the memory stay flat. Target (80-operations.md): ≥ 100,000 records/s and
≥ 0.5 x the bare insert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import inspect
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse, urlunparse

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:55432/simcare"
LINES_PER_SUBSCRIBER = 10
DAY_START = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)


def peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU used so far by this process (all threads) and, on PostgreSQL, by its server backend
    (read from /proc: the dev server runs on this machine). On a machine shared with other
    work, CPU seconds move far less with the load than wall-clock seconds do."""
    from django.db import connection

    used = time.process_time()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def msisdn(index: int) -> str:
    return f"+1{2000000000 + index}"


def generate(records: int, lines: int, seed: int = 8) -> Iterator[tuple[str, ...]]:
    """The CDR rows, as strings, in file order (roughly by time, as a switch writes them)."""
    rng = random.Random(seed)
    step = 86_400 / max(records, 1)
    choices = rng.choices
    for index in range(records):
        kind = choices(("data", "voice", "sms"), (6, 3, 1))[0]
        zone = choices(("CA", "US", "INTL"), (90, 7, 3))[0]
        if kind == "data":
            quantity, direction = rng.randrange(0, 2_000_000), ""
        elif kind == "voice":
            quantity = rng.randrange(0, 600)
            direction = "in" if rng.random() < 0.33 else "out"
        else:
            quantity, direction = 1, ("in" if rng.random() < 0.33 else "out")
        moment = DAY_START + dt.timedelta(seconds=index * step + rng.random())
        yield (
            f"r{index:010d}",
            msisdn(1 + rng.randrange(lines)),
            kind,
            moment.isoformat(),
            str(quantity),
            zone,
            direction,
        )


def write_file(path: Path, records: int, lines: int, *, compress: bool) -> None:
    import csv

    opener: Any = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["record_id", "msisdn", "type", "started_at", "quantity", "zone", "direction"]
        )
        writer.writerows(generate(records, lines))


def load(lines: int) -> dict[str, Any]:
    """Subscribers and wallets by the ORM and the ledger; numbers/SIMs/lines/buckets in SQL."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from simcare.accounts.models import Subscriber, User
    from simcare.catalog.models import AddOn, Plan
    from simcare.ledger import services as ledger
    from simcare.ledger.models import AccountKind, LedgerAccount

    started = time.perf_counter()
    plan = Plan.objects.create(
        code="bench30",
        name_en="Bench 30",
        name_fr="Banc 30",
        name_zh_hans="基准30",
        price_cents=3500,
        validity_days=30,
        data_mb=40,
        voice_minutes=100,
        sms_messages=50,
        overage_data_cents_per_mb=1,
        overage_voice_cents_per_minute=5,
        overage_sms_cents=10,
        us_data_cents_per_mb=5,
        us_voice_cents_per_minute=25,
        us_sms_cents=25,
        intl_data_cents_per_mb=20,
        intl_voice_cents_per_minute=100,
        intl_sms_cents=50,
    )
    addon = AddOn.objects.create(
        code="data5",
        name_en="Data 5",
        name_fr="Données 5",
        name_zh_hans="数据5",
        kind="data",
        quantity=10,
        price_cents=1500,
        validity_days=7,
    )
    subscriber_count = max(1, lines // LINES_PER_SUBSCRIBER)
    unusable = make_password(None)
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(username=f"bench{index}", email=f"bench{index}@example.com", password=unusable)
            for index in range(subscriber_count)
        )
        subscribers = Subscriber.objects.bulk_create(Subscriber(user=user) for user in users)
        wallets = LedgerAccount.objects.bulk_create(
            LedgerAccount(
                kind=AccountKind.WALLET, code=f"wallet:{subscriber.pk}", subscriber=subscriber
            )
            for subscriber in subscribers
        )
        clearing = ledger.system_account("clearing:stripe")
        ledger.post_transaction(
            kind="wallet_topup",
            entries=[(clearing, -300 * len(wallets)), *((wallet, 300) for wallet in wallets)],
        )
    first_subscriber = subscribers[0].pk
    now = DAY_START - dt.timedelta(days=10)
    params = {
        "start": connection.ops.adapt_datetimefield_value(now),
        "end": connection.ops.adapt_datetimefield_value(now + dt.timedelta(days=30)),
        "addon_end": connection.ops.adapt_datetimefield_value(now + dt.timedelta(days=12)),
        "plan": plan.pk,
        "addon": addon.pk,
        "first_subscriber": first_subscriber,
        "subscribers": subscriber_count,
        "lines": lines,
    }
    if connection.vendor == "postgresql":
        series = "SELECT n FROM generate_series(1, %(lines)s) AS n"
    else:
        series = (
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            "WHERE n < %(lines)s) SELECT n FROM seq"
        )
    number = "'+1' || CAST((2000000000 + n) AS TEXT)"
    iccid = "'8912' || CAST((1000000000000000 + n) AS TEXT)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO lines_number (id, msisdn, status, quarantine_until, updated_at) "
            f"SELECT n, {number}, 'assigned', NULL, %(start)s FROM ({series}) AS s",
            params,
        )
        cursor.execute(
            f"""INSERT INTO lines_simcard (id, iccid, kind, status, location, store_id,
                smdp_address, matching_id, imported_at, assigned_at)
            SELECT n, {iccid}, 'physical', 'assigned', 'WAREHOUSE', NULL, '', '',
                %(start)s, %(start)s FROM ({series}) AS s""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO lines_line (id, subscriber_id, msisdn, number_id, sim_id, kind, state,
                plan_id, period_start, period_end, state_changed_at, auto_renew, activated_at,
                recycled_at, sweep_id, is_barred, barred_at, usage_debt_cents)
            SELECT n, %(first_subscriber)s + ((n - 1) / {LINES_PER_SUBSCRIBER}), {number}, n, n,
                'physical', 'active', %(plan)s, %(start)s, %(end)s, %(start)s, FALSE,
                %(start)s, NULL, NULL, FALSE, NULL, 0
            FROM ({series}) AS s""",
            params,
        )
        for kind, total in (("data", 40 * 1024), ("voice", 100), ("sms", 50)):
            cursor.execute(
                """INSERT INTO lines_bucket (line_id, kind, zone, source, addon_id, total, used,
                    starts_at, expires_at)
                SELECT id, %(kind)s, 'CA', 'plan', NULL, %(total)s, 0, period_start, period_end
                FROM lines_line""",
                {**params, "kind": kind, "total": total},
            )
        cursor.execute(
            """INSERT INTO lines_bucket (line_id, kind, zone, source, addon_id, total, used,
                starts_at, expires_at)
            SELECT id, 'data', 'CA', 'addon', %(addon)s, 10240, 0, period_start, %(addon_end)s
            FROM lines_line WHERE id %% 4 = 0""",
            params,
        )
        cursor.execute("ANALYZE" if connection.vendor != "postgresql" else "SELECT 1")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {
        "subscribers": subscriber_count,
        "load_seconds": round(time.perf_counter() - started, 2),
    }


def _bare_row(fields: list[str], *, postgres: bool) -> tuple[Any, ...]:
    record_id, _msisdn, kind, started, quantity, zone, direction = fields
    moment = dt.datetime.fromisoformat(started).astimezone(dt.UTC)
    return (
        record_id,
        1,
        1,
        kind,
        zone,
        direction or "out",
        moment if postgres else str(moment.replace(tzinfo=None)),
        int(quantity),
        int(quantity),
        0,
        0,
        0,
        0,
        0,
        0,
        "rated",
    )


ROWS_PER_INSERT = 100  # SQLite multi-row INSERT: the importer's (services._ROWS_PER_INSERT)


def _bare_write(batch: Any, table: str, *, postgres: bool, single: bool = False) -> None:
    from django.db import connection

    from simcare.usage import services

    columns = ", ".join(services._RECORD_COLUMNS)
    with connection.cursor() as cursor:
        if postgres:
            # COPY of the frame as CSV rendered by polars: several times less client CPU than
            # psycopg's write_row over tuples (measured: 0.6 s against 2.9 s a million rows),
            # and what the import does.
            payload = batch.write_csv(
                include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f+00:00"
            )
            with cursor.cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(payload)
        elif single:
            placeholders = ", ".join(["%s"] * len(services._RECORD_COLUMNS))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", batch)
        else:
            # The import's method: INSERTs of ROWS_PER_INSERT rows on the raw sqlite3 cursor,
            # their parameters flattened before the clock.
            chunks, rest = batch
            row = "(" + ", ".join(["?"] * len(services._RECORD_COLUMNS)) + ")"
            statement = f"INSERT INTO {table} ({columns}) VALUES "
            raw = connection.connection.cursor()
            try:
                if chunks:
                    raw.executemany(statement + ", ".join([row] * ROWS_PER_INSERT), chunks)
                if rest:
                    raw.execute(
                        statement + ", ".join([row] * (len(rest) // len(services._RECORD_COLUMNS))),
                        rest,
                    )
            finally:
                raw.close()


def _multirow(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """SQLite: the rows as the parameters of ROWS_PER_INSERT-row statements, and the rest
    (datetimes as the text SQLite stores)."""
    flat = [str(value) if isinstance(value, dt.datetime) else value for r in rows for value in r]
    step = ROWS_PER_INSERT * len(rows[0])
    full = len(rows) // ROWS_PER_INSERT * step
    chunks = [tuple(flat[start : start + step]) for start in range(0, full, step)]
    return chunks, tuple(flat[full:])


def _as_frame(batch: list[tuple[Any, ...]]) -> Any:
    """PostgreSQL: the rows as a polars frame (built before the clock starts)."""
    import polars as pl

    from simcare.usage import services

    return pl.DataFrame(batch, schema=list(services._RECORD_COLUMNS), orient="row")


def unrated_frames(path: Path, frame_size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The file's rows as the importer would store them before rating (units = quantity,
    zeros for the rest, line and import 1): the baseline of the earlier measurements."""
    import csv

    from django.db import connection

    postgres = connection.vendor == "postgresql"
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        while True:
            batch = [_bare_row(fields, postgres=postgres) for fields in islice(reader, frame_size)]
            if not batch:
                return
            yield batch


def stored_frames(frame_size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows the import stored, exactly (rated values included), read back in id order."""
    from django.db import connection

    from simcare.usage import services

    columns = ", ".join(services._RECORD_COLUMNS)
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {columns} FROM usage_usagerecord WHERE id > %s ORDER BY id LIMIT %s",
                [last, frame_size],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [tuple(row[1:]) for row in rows]


def bare_insert(
    frames: Iterator[list[tuple[Any, ...]]], batch_size: int, table: str, *, single: bool = False
) -> tuple[int, float, float]:
    """The baseline: rows built beforehand, bulk-inserted into a same-shaped table (same
    columns, same unique index) by the import's method, COPY on PostgreSQL and 100-row INSERTs
    on SQLite: a transaction per batch_size rows, one statement per frame. Only the insert is
    timed (wall and CPU); the rows of each frame are built before the clock starts (on SQLite
    the parameters of 100-row INSERTs, as the import writes them; `single`: the earlier
    baseline's executemany of one-row INSERTs over tuples, on Django's cursor; on PostgreSQL
    a polars frame, rendered as CSV for COPY inside the clock, as the import does: the fastest
    way measured, several times less CPU than psycopg's write_row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {table} (LIKE usage_usagerecord INCLUDING ALL)")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master "
                "WHERE tbl_name = 'usage_usagerecord' AND sql IS NOT NULL"
            )
            for (original,) in cursor.fetchall():
                statement = original.replace('"usage_usagerecord"', f'"{table}"')
                cursor.execute(statement.replace("usage_record_record_id_unique", f"{table}_rid"))
    postgres = connection.vendor == "postgresql"
    rows_done = 0
    elapsed = 0.0
    cpu = 0.0
    in_transaction = 0
    while True:
        rows = next(frames, [])
        if postgres and rows:
            batch = _as_frame(rows)
        elif rows and not single:
            batch = _multirow(rows)
        else:
            batch = rows
        started_at = time.perf_counter()
        cpu_at = cpu_seconds()
        if rows:
            if not in_transaction:
                connection.set_autocommit(False)
            _bare_write(batch, table, postgres=postgres, single=single)
            in_transaction += len(rows)
            rows_done += len(rows)
        if in_transaction and (in_transaction >= batch_size or not rows):
            connection.commit()
            connection.set_autocommit(True)
            in_transaction = 0
        elapsed += time.perf_counter() - started_at
        cpu += cpu_seconds() - cpu_at
        if not rows:
            break
    return rows_done, elapsed, cpu


def single_baseline(records: int, batch_size: int, frame_size: int) -> dict[str, float | None]:
    """SQLite: the stored rows by one-row INSERTs (executemany on Django's cursor), the
    baseline of the rounds before the import wrote 100 rows a statement: printed beside."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return {"single_bare_seconds": None, "single_bare_cpu_seconds": None}
    rows, seconds, cpu = bare_insert(
        stored_frames(frame_size), batch_size, "bench_single", single=True
    )
    assert rows == records
    return {"single_bare_seconds": round(seconds, 2), "single_bare_cpu_seconds": round(cpu, 2)}


def check_conservation(subscribers: int) -> tuple[int, int]:
    """Every unit accounted for, the wallets moved by the charges, the ledger's invariants
    (`ledger verify`); returns (charged, debt)."""
    from django.db import connection

    from simcare.ledger.models import LedgerAccount

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(units), SUM(bucket_units + overage_units + free_units + rejected_units), "
            "SUM(charged_cents), SUM(debt_cents) FROM usage_usagerecord"
        )
        units, accounted, charged, debt = (int(value or 0) for value in cursor.fetchone())
    assert units == accounted, (units, accounted)
    wallet_total = sum(
        LedgerAccount.objects.filter(kind="wallet").values_list("cached_balance_cents", flat=True)
    )
    assert wallet_total == 300 * subscribers - charged, (wallet_total, charged)
    from simcare.ledger.queries import find_breaks

    breaks = find_breaks()  # balanced transactions, cached balances = sums of entries
    assert not breaks, breaks[:5]

    return charged, debt


def run_child(  # noqa: PLR0917
    records: int,
    lines: int,
    batch_size: int,
    frame_size: int,
    compress: bool,
    profile: str | None = None,
) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from simcare.ledger.models import LedgerEntry
    from simcare.lines.models import Line
    from simcare.notify.models import Notification
    from simcare.usage import services
    from simcare.usage.models import DailyUsage, UsageRecord

    call_command("migrate", verbosity=0, interactive=False)
    loaded = load(lines)
    work = Path(tempfile.mkdtemp(prefix="simcare-cdr-"))
    path = work / ("cdrs.csv.gz" if compress else "cdrs.csv")
    started = time.perf_counter()
    write_file(path, records, lines, compress=compress)
    generated_in = time.perf_counter() - started
    memory_before = peak_memory_mb()

    # Older versions of the importer (one frame a transaction) run too, for before/after figures.
    takes_frames = "frame_size" in inspect.signature(services.import_cdrs).parameters
    frames = {"frame_size": frame_size} if takes_frames else {}
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    started = time.perf_counter()
    cpu_at = cpu_seconds()
    with path.open("rb") as source:
        if profiler is not None:
            profiler.enable()
        report = services.import_cdrs(source, file_name=path.name, batch_size=batch_size, **frames)
        if profiler is not None:
            profiler.disable()
    import_seconds = time.perf_counter() - started
    import_cpu = cpu_seconds() - cpu_at
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    memory_after = peak_memory_mb()
    assert report.applied == records, report
    assert UsageRecord.objects.count() == records

    charged, debt = check_conservation(loaded["subscribers"])

    reimport_started = time.perf_counter()
    with path.open("rb") as source:
        again = services.import_cdrs(source, file_name=path.name, batch_size=batch_size, **frames)
    reimport_seconds = time.perf_counter() - reimport_started
    assert again.applied == 0, again
    assert again.duplicates == records, again

    bare_rows, bare_seconds, bare_cpu = bare_insert(
        stored_frames(frame_size), batch_size, "bench_stored"
    )
    assert bare_rows == records
    unrated_rows, unrated_seconds, unrated_cpu = bare_insert(
        unrated_frames(path, frame_size), batch_size, "bench_unrated"
    )
    assert unrated_rows == records
    path.unlink()

    return {
        "database": connection.vendor,
        "records": records,
        "lines": lines,
        "batch_size": batch_size,
        "frame_size": frame_size,
        "file": path.name,
        **loaded,
        "generate_seconds": round(generated_in, 2),
        "import_seconds": round(import_seconds, 2),
        "import_records_per_second": round(records / import_seconds),
        "reimport_seconds": round(reimport_seconds, 2),
        "bare_seconds": round(bare_seconds, 2),
        "bare_records_per_second": round(records / bare_seconds),
        "import_vs_bare": round(bare_seconds / import_seconds, 3),
        "import_cpu_seconds": round(import_cpu, 2),
        "bare_cpu_seconds": round(bare_cpu, 2),
        "import_vs_bare_cpu": round(bare_cpu / import_cpu, 3),
        "load_average": os.getloadavg()[0],
        **single_baseline(records, batch_size, frame_size),
        "unrated_bare_seconds": round(unrated_seconds, 2),
        "unrated_bare_cpu_seconds": round(unrated_cpu, 2),
        "import_vs_unrated_bare": round(unrated_seconds / import_seconds, 3),
        "import_vs_unrated_bare_cpu": round(unrated_cpu / import_cpu, 3),
        "charged_cents": charged,
        "debt_cents": debt,
        "barred_lines": Line.objects.filter(is_barred=True).count(),
        "daily_rows": DailyUsage.objects.count(),
        "ledger_entries": LedgerEntry.objects.count(),
        "notifications": Notification.objects.count(),
        "stages": {stage: round(seconds, 2) for stage, seconds in report.stage_seconds.items()},
        "stages_cpu": {
            stage: round(seconds, 2)
            for stage, seconds in getattr(report, "stage_cpu_seconds", {}).items()
        },
        "peak_rss_mb_before_import": round(memory_before, 1),
        "peak_rss_mb_after_import": round(memory_after, 1),
    }


def _postgres_admin_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    with tempfile.TemporaryDirectory(prefix="simcare-bench-") as data_dir:
        env = {**os.environ, "SIMCARE_DATA_DIR": data_dir}
        env["DJANGO_SETTINGS_MODULE"] = "simcare.settings"
        env.pop("SIMCARE_TESTING", None)
        admin_url = _postgres_admin_url()
        prefix = os.environ.get("SIMCARE_BENCH_DB_PREFIX", "simcare_bench")
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        if database == "postgres":
            with psycopg.connect(_with_database(admin_url, "postgres"), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            env["DATABASE_URL"] = _with_database(admin_url, name)
        else:
            env.pop("DATABASE_URL", None)
        command = [
            sys.executable,
            __file__,
            "--child",
            "--records",
            str(args.records),
            "--lines",
            str(args.lines),
            "--batch-size",
            str(args.batch_size),
            "--frame-size",
            str(args.frame_size),
        ]
        if args.profile:
            command += ["--profile", f"{args.profile}.{database}"]
        if args.gzip:
            command.append("--gzip")
        try:
            completed = subprocess.run(
                command, env=env, capture_output=True, text=True, check=False
            )
        finally:
            if database == "postgres":
                with psycopg.connect(
                    _with_database(admin_url, "postgres"), autocommit=True
                ) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if completed.returncode != 0:
            sys.stderr.write(completed.stderr)
            raise SystemExit(f"{database}: benchmark failed")
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return result


def print_result(result: dict[str, Any], out: IO[str] = sys.stdout) -> None:
    out.write(
        f"\n== {result['database']}: {result['records']:,} records for {result['lines']:,} lines "
        f"({result['file']}, batches of {result['batch_size']:,} in frames of "
        f"{result['frame_size']:,})\n"
        f"  import   parse+dedupe+rate+persist+ledger: {result['import_seconds']} s "
        f"= {result['import_records_per_second']:,} records/s\n"
        f"  baseline bare bulk insert of the rows it stored: {result['bare_seconds']} s "
        f"= {result['bare_records_per_second']:,} records/s\n"
        f"  import / bare insert throughput: {result['import_vs_bare']}\n"
        f"  (the unrated rows, the earlier baseline: {result['unrated_bare_seconds']} s, "
        f"ratio {result['import_vs_unrated_bare']}; CPU {result['unrated_bare_cpu_seconds']} s, "
        f"ratio {result['import_vs_unrated_bare_cpu']})\n"
        + (
            f"  (SQLite, the stored rows by one-row INSERTs, the baseline before the import "
            f"wrote 100 rows a statement: {result['single_bare_seconds']} s, ratio "
            f"{round(result['single_bare_seconds'] / result['import_seconds'], 3)}; CPU "
            f"{result['single_bare_cpu_seconds']} s, ratio "
            f"{round(result['single_bare_cpu_seconds'] / result['import_cpu_seconds'], 3)})\n"
            if result.get("single_bare_seconds") is not None
            else ""
        )
        + f"  CPU seconds (this process + its PostgreSQL backend): import "
        f"{result['import_cpu_seconds']}, bare insert {result['bare_cpu_seconds']}, "
        f"ratio {result['import_vs_bare_cpu']} (load average {result['load_average']:.1f})\n"
        f"  import stages (s): {', '.join(f'{k} {v}' for k, v in result['stages'].items())}\n"
        f"  import stages (CPU s of this process): "
        f"{', '.join(f'{k} {v}' for k, v in result['stages_cpu'].items())}\n"
        f"  re-import (all duplicates, nothing changed): {result['reimport_seconds']} s\n"
        f"  charged {result['charged_cents'] / 100:,.2f} $, "
        f"debt {result['debt_cents'] / 100:,.2f} $, "
        f"{result['barred_lines']:,} lines barred, {result['daily_rows']:,} daily rows, "
        f"{result['ledger_entries']:,} ledger entries, {result['notifications']:,} notifications\n"
        f"  peak RSS: {result['peak_rss_mb_before_import']} MB before the import, "
        f"{result['peak_rss_mb_after_import']} MB after\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=2_000_000, help="rows a transaction")
    parser.add_argument("--frame-size", type=int, default=250_000, help="rows a frame")
    parser.add_argument(
        "--profile", metavar="FILE", help="cProfile the import into FILE.<database> (pstats)"
    )
    parser.add_argument("--gzip", action="store_true", help="write and import a .csv.gz")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON lines")
    args = parser.parse_args()
    if args.child:
        # SIMCARE_BENCH_SRC: another checkout's src (an older importer, for before/after figures).
        source = os.environ.get("SIMCARE_BENCH_SRC") or str(
            Path(__file__).resolve().parents[1] / "src"
        )
        sys.path.insert(0, source)
        result = run_child(
            args.records, args.lines, args.batch_size, args.frame_size, args.gzip, args.profile
        )
        print(json.dumps(result))
        return
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for database in databases:
        result = run_database(database, args)
        if args.json:
            print(json.dumps(result))
        else:
            print_result(result)


if __name__ == "__main__":
    main()
