"""Lifecycle sweep benchmark: lines moved active → grace per second, with history and notifications.

    python benchmarks/lifecycle.py [--lines N] [--database sqlite|postgres|both] [--chunk-size C]

For each database it builds a throwaway one (a SQLite file in a temporary
directory; a fresh PostgreSQL database on the server of DATABASE_URL, or the
dev server postgres://postgres@127.0.0.1:55432, created and dropped here),
migrates it, and loads N lines whose period ended an hour ago, generated
inside the database (INSERT … SELECT over generate_series / a recursive CTE,
so loading a million rows takes seconds and no Python memory). Then it times:

- the sweep: `simcare.lines.services.sweep_lifecycle`, the code the
  `lifecycle` job runs: N lines active → grace, N history rows, 2·N queued
  notifications (email + SMS), in chunks;
- the baseline, in the same database and run: a bare
  `UPDATE lines_line SET state = … WHERE state = …` of the same N rows.

It prints lines/s for both, their ratio, and the process's peak resident
memory (getrusage) before and after the sweep, so "memory stays flat" can be
read off. Each database runs in its own child process (Django settings are
per process). Target (docs/spec 80-operations): 1,000,000 lines in < 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:55432/simcare"
SUBSCRIBERS_PER_LINE = 10  # one subscriber owns ten lines: joins stay realistic, users stay few


def peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(lines: int) -> dict[str, Any]:
    """Fill the fresh database: subscribers by the ORM, numbers/SIMs/lines generated in SQL."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from simcare.accounts.models import Subscriber, User
    from simcare.catalog.models import Plan

    now = timezone.now()
    plan = Plan.objects.create(
        code="bench30",
        name_en="Bench 30",
        name_fr="Banc 30",
        name_zh_hans="基准30",
        price_cents=3500,
        validity_days=30,
        data_mb=20480,
    )
    subscriber_count = max(1, lines // SUBSCRIBERS_PER_LINE)
    unusable_password = make_password(None)
    # In slices, so the loader's own Python objects do not set the peak memory.
    for first in range(0, subscriber_count, 10_000):
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(
                    username=f"bench{index}",
                    email=f"bench{index}@example.com",
                    password=unusable_password,
                )
                for index in range(first, min(first + 10_000, subscriber_count))
            )
            Subscriber.objects.bulk_create(Subscriber(user=user) for user in users)
        del users
    first_subscriber = Subscriber.objects.order_by("id").values_list("id", flat=True)[0]

    period_end = now - dt.timedelta(hours=1)
    period_start = period_end - dt.timedelta(days=30)
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "start": connection.ops.adapt_datetimefield_value(period_start),
        "end": connection.ops.adapt_datetimefield_value(period_end),
        "plan": plan.pk,
        "first_subscriber": first_subscriber,
        "subscribers": subscriber_count,
        "lines": lines,
    }
    if connection.vendor == "postgresql":
        series = "SELECT n FROM generate_series(1, %(lines)s) AS n"
        as_text = "CAST({} AS TEXT)"
    else:
        series = (
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            "WHERE n < %(lines)s) SELECT n FROM seq"
        )
        as_text = "CAST({} AS TEXT)"
    msisdn = "'+1' || " + as_text.format("(2000000000 + n)")
    iccid = "'8912' || " + as_text.format("(1000000000000000 + n)")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO lines_number (id, msisdn, status, quarantine_until, updated_at)
            SELECT n, {msisdn}, 'assigned', NULL, %(now)s FROM ({series}) AS s
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO lines_simcard (id, iccid, kind, status, location, store_id,
                smdp_address, matching_id, imported_at, assigned_at)
            SELECT n, {iccid}, 'physical', 'assigned', 'WAREHOUSE', NULL, '', '',
                %(now)s, %(start)s
            FROM ({series}) AS s
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO lines_line (id, subscriber_id, msisdn, number_id, sim_id, kind, state,
                plan_id, period_start, period_end, state_changed_at, auto_renew, activated_at,
                recycled_at, sweep_id)
            SELECT n, %(first_subscriber)s + (n %% %(subscribers)s), {msisdn}, n, n, 'physical',
                'active', %(plan)s, %(start)s, %(end)s, %(start)s, FALSE, %(start)s, NULL, NULL
            FROM ({series}) AS s
            """,
            params,
        )
    loaded_in = time.perf_counter() - started
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
    return {"subscribers": subscriber_count, "load_seconds": round(loaded_in, 2)}


def run_child(lines: int, chunk_size: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from simcare.lines import services
    from simcare.lines.models import Line, LineEvent
    from simcare.notify.models import Notification

    call_command("migrate", verbosity=0, interactive=False)
    loaded = load(lines)
    memory_before = peak_memory_mb()

    started = time.perf_counter()
    summary = services.sweep_lifecycle(timezone.now(), chunk_size=chunk_size)
    sweep_seconds = time.perf_counter() - started
    memory_after = peak_memory_mb()

    moved = summary["active_to_grace"]
    events = LineEvent.objects.count()
    notifications = Notification.objects.count()
    assert moved == lines, summary
    assert events == lines, events
    assert notifications == 2 * lines, notifications
    assert not Line.objects.filter(state="active").exists()

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE lines_line")
        started = time.perf_counter()
        cursor.execute("UPDATE lines_line SET state = 'suspended' WHERE state = 'grace'")
        baseline_rows = cursor.rowcount
        baseline_seconds = time.perf_counter() - started
    assert baseline_rows == lines, baseline_rows

    return {
        "database": connection.vendor,
        "lines": lines,
        "chunk_size": chunk_size,
        **loaded,
        "sweep_seconds": round(sweep_seconds, 2),
        "sweep_lines_per_second": round(lines / sweep_seconds),
        "history_rows": events,
        "notification_rows": notifications,
        "baseline_seconds": round(baseline_seconds, 2),
        "baseline_lines_per_second": round(lines / baseline_seconds),
        "sweep_vs_baseline": round(baseline_seconds / sweep_seconds, 3),
        "peak_rss_mb_before_sweep": round(memory_before, 1),
        "peak_rss_mb_after_sweep": round(memory_after, 1),
    }


def _postgres_admin_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def run_database(database: str, lines: int, chunk_size: int) -> dict[str, Any]:
    import psycopg

    with tempfile.TemporaryDirectory(prefix="simcare-bench-") as data_dir:
        env = {**os.environ, "SIMCARE_DATA_DIR": data_dir}
        env["DJANGO_SETTINGS_MODULE"] = "simcare.settings"
        env.pop("SIMCARE_TESTING", None)
        admin_url = _postgres_admin_url()
        name = f"simcare_bench_{uuid.uuid4().hex[:10]}"
        if database == "postgres":
            with psycopg.connect(_with_database(admin_url, "postgres"), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            env["DATABASE_URL"] = _with_database(admin_url, name)
        else:
            env.pop("DATABASE_URL", None)
        try:
            completed = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--lines",
                    str(lines),
                    "--chunk-size",
                    str(chunk_size),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
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


def print_result(result: dict[str, Any]) -> None:
    print(
        f"\n== {result['database']}: {result['lines']:,} lines "
        f"(chunks of {result['chunk_size']:,}; loaded in {result['load_seconds']} s)\n"
        f"  sweep    active→grace + {result['history_rows']:,} history rows + "
        f"{result['notification_rows']:,} notifications: {result['sweep_seconds']} s "
        f"= {result['sweep_lines_per_second']:,} lines/s\n"
        f"  baseline bare UPDATE of the same rows' state:        {result['baseline_seconds']} s "
        f"= {result['baseline_lines_per_second']:,} lines/s\n"
        f"  sweep / baseline throughput: {result['sweep_vs_baseline']}\n"
        f"  peak RSS: {result['peak_rss_mb_before_sweep']} MB before the sweep, "
        f"{result['peak_rss_mb_after_sweep']} MB after\n"
        f"  target 1,000,000 lines < 60 s: projected "
        f"{1_000_000 / result['sweep_lines_per_second']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON lines")
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        print(json.dumps(run_child(args.lines, args.chunk_size)))
        return
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for database in databases:
        result = run_database(database, args.lines, args.chunk_size)
        if args.json:
            print(json.dumps(result))
        else:
            print_result(result)


if __name__ == "__main__":
    main()
