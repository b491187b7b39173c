"""How fast vouchers are generated (a 10,000-card batch) and redeemed.

    python benchmarks/vouchers.py                      # SQLite and PostgreSQL
    python benchmarks/vouchers.py --backend sqlite     # or postgresql
    python benchmarks/vouchers.py --count 2000         # a smaller batch

Each backend gets a throwaway database (a SQLite file in a temporary data dir, or
a PostgreSQL database created next to DATABASE_URL's, default
postgres://postgres@127.0.0.1:55432/simcare, dropped at the end). In the same
run it times:

- generate: `generate_batch` of --count vouchers (CSPRNG PINs, HMAC hashes, the
  uniqueness lookups, bulk insert, audit), median of three batches;
- baseline: a bare `bulk_create` of as many voucher rows with precomputed hashes;
- redeem: --redemptions sequential `redeem_voucher` calls (lock check, row lock,
  conditional update, ledger transfer, audit, outbox);
- transfer: as many bare ledger transfers liability:vouchers → wallet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse, urlunparse

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:55432/simcare"
REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--redemptions", type=int, default=300)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_child(arguments.count, arguments.redemptions)))
        return
    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    results = [run_backend(name, arguments.count, arguments.redemptions) for name in backends]
    print_results(results)


def run_backend(backend: str, count: int, redemptions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="simcare-bench-") as data_dir:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "SIMCARE_TESTING"}
        }
        env["SIMCARE_DATA_DIR"] = data_dir
        command = [
            sys.executable,
            __file__,
            "--child",
            "--count",
            str(count),
            "--redemptions",
            str(redemptions),
        ]
        if backend == "sqlite":
            return _run_child_process(command, env)
        base_url = os.environ.get("DATABASE_URL", DEFAULT_POSTGRES_URL)
        name = f"simcare_bench_vouchers_{os.getpid()}"
        _postgres_admin(base_url, f'CREATE DATABASE "{name}"')
        try:
            env["DATABASE_URL"] = urlunparse(urlparse(base_url)._replace(path=f"/{name}"))
            return _run_child_process(command, env)
        finally:
            _postgres_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_child_process(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise SystemExit(finished.returncode)
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def _postgres_admin(base_url: str, statement: str) -> None:
    import psycopg

    url = urlunparse(urlparse(base_url)._replace(path="/postgres"))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)


def print_results(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'database':<11} {'vouchers':>9} {'generate s':>11} {'baseline s':>11} "
        f"{'vouchers/s':>11} {'redeem ms':>10} {'transfer ms':>12} {'redeem/transfer':>16}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result['vendor']:<11} {result['count']:>9,} {result['generate_seconds']:>11.2f} "
            f"{result['baseline_seconds']:>11.2f} "
            f"{result['count'] / result['generate_seconds']:>11,.0f} "
            f"{result['redeem_ms']:>10.2f} {result['transfer_ms']:>12.2f} "
            f"{result['redeem_ms'] / result['transfer_ms']:>15.1f}x"
        )


def _median_seconds(work: Callable[[int], None]) -> float:
    timings = []
    for run in range(REPEATS):
        started = time.perf_counter()
        work(run)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run_child(count: int, redemptions: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from simcare.accounts.models import Subscriber, User
    from simcare.ledger import services as ledger
    from simcare.orders import pins
    from simcare.orders.models import Voucher, VoucherBatch
    from simcare.orders.services import vouchers

    logging.disable(logging.INFO)  # one log line per call would be timed too
    call_command("migrate", verbosity=0)
    expires_at = timezone.now() + dt.timedelta(days=365)
    key = vouchers.current_voucher_key()

    def generate(run: int) -> None:
        vouchers.generate_batch(
            name=f"bench {run}",
            value_cents=2500,
            count=count,
            expires_at=expires_at,
            acting_user=None,
        )

    def baseline(run: int) -> None:
        batch = VoucherBatch.objects.create(
            name=f"baseline {run}", value_cents=2500, count=count, expires_at=expires_at
        )
        Voucher.objects.bulk_create(
            (
                Voucher(
                    batch=batch,
                    serial=f"B{run}{index:012d}",
                    pin_hash=pins.hash_pin(f"{run}{index:015d}", key=key),
                    value_cents=2500,
                    expires_at=expires_at,
                )
                for index in range(count)
            ),
            batch_size=1_000,
        )

    generate_seconds = _median_seconds(generate)
    baseline_seconds = _median_seconds(baseline)

    user = User.objects.create_user(username="bench.subscriber", password=None)
    subscriber = Subscriber.objects.create(user=user)
    _batch, issued = vouchers.generate_batch(
        name="to redeem",
        value_cents=100,
        count=redemptions,
        expires_at=expires_at,
        acting_user=None,
    )
    started = time.perf_counter()
    for _serial, pin in issued:
        vouchers.redeem_voucher(subscriber, pin, ip_address="203.0.113.7", acting_user=None)
    redeem_seconds = time.perf_counter() - started

    liability = ledger.system_account(vouchers.LIABILITY_ACCOUNT)
    wallet = ledger.wallet_for(subscriber)
    started = time.perf_counter()
    for index in range(redemptions):
        ledger.transfer(
            kind="voucher_redemption",
            source=liability,
            destination=wallet,
            amount_cents=100,
            idempotency_key=f"bench:{index}",
        )
    transfer_seconds = time.perf_counter() - started
    return {
        "vendor": connection.vendor,
        "count": count,
        "generate_seconds": generate_seconds,
        "baseline_seconds": baseline_seconds,
        "redeem_ms": redeem_seconds * 1000 / redemptions,
        "transfer_ms": transfer_seconds * 1000 / redemptions,
    }


if __name__ == "__main__":
    main()
