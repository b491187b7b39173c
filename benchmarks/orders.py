"""Renewals per second through the order service, and `ledger verify` on a million entries.

    python benchmarks/orders.py                           # SQLite and PostgreSQL
    python benchmarks/orders.py --backend sqlite          # or postgresql
    python benchmarks/orders.py --renewals 500 --verify-transactions 0   # quick, no verify

Each backend gets a throwaway database: a SQLite file in a temporary data dir, or a
PostgreSQL database created next to DATABASE_URL's (default
postgres://postgres@127.0.0.1:55432/simcare) and dropped at the end. The child
process migrates it, activates --lines lines through lines.services, funds their
wallets, then times, in the same run and database:

- renewals: --renewals calls of `simcare.orders.services.ordering.renew` (wallet,
  one period, each its own idempotency key and database transaction): order and
  items, the wallet debit with tax, the line extended with new buckets, history,
  receipt, audit events and three queued notifications;
- baseline 1: the same number of bare `ledger.services.transfer` calls (wallet →
  revenue:plans), the money part of a renewal alone;
- baseline 2: the same number of bare single-row INSERTs of an order
  (`Order.objects.create`, autocommit), the floor of writing one row per renewal.

Then it runs benchmarks/ledger_verify.py's load and timing for
--verify-transactions transactions (two entries each: 500,000 make 1,000,000
entries) on the same backend, and prints everything side by side.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ledger_verify

DEFAULT_POSTGRES_URL = ledger_verify.DEFAULT_POSTGRES_URL
SOURCE = Path(__file__).resolve().parents[1] / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--renewals", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--verify-transactions", type=int, default=500_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_child(arguments.renewals, arguments.lines)))
        return

    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    results = []
    for backend in backends:
        result = run_backend(backend, arguments.renewals, arguments.lines)
        if arguments.verify_transactions:
            result["verify"] = ledger_verify.run_backend(
                backend, arguments.verify_transactions, 10_000
            )
        results.append(result)
    print_results(results)


def run_backend(backend: str, renewals: int, lines: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="simcare-bench-orders-") as data_dir:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["SIMCARE_DATA_DIR"] = data_dir
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            __file__,
            "--child",
            "--renewals",
            str(renewals),
            "--lines",
            str(lines),
        ]
        if backend == "sqlite":
            return _run(command, env)
        base_url = os.environ.get("DATABASE_URL", DEFAULT_POSTGRES_URL)
        name = f"simcare_bench_orders_{os.getpid()}"
        ledger_verify._postgres_admin(base_url, f'CREATE DATABASE "{name}"')
        try:
            env["DATABASE_URL"] = ledger_verify._with_database(base_url, name)
            return _run(command, env)
        finally:
            ledger_verify._postgres_admin(
                base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )


def _run(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise SystemExit(finished.returncode)
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def print_results(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'database':<11} {'renewals':>8} {'renew/s':>9} {'transfer/s':>11} "
        f"{'INSERT/s':>9} {'renew/transfer':>14} {'renew/INSERT':>12}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result['vendor']:<11} {result['renewals']:>8,} "
            f"{result['renewals_per_second']:>9,.0f} {result['transfers_per_second']:>11,.0f} "
            f"{result['inserts_per_second']:>9,.0f} "
            f"{result['renewals_per_second'] / result['transfers_per_second']:>13.2f}x "
            f"{result['renewals_per_second'] / result['inserts_per_second']:>11.2f}x"
        )
    verified = [result for result in results if "verify" in result]
    if verified:
        print()
        ledger_verify.print_results([result["verify"] for result in verified])
    for result in results:
        print(f"{result['vendor']}: {result['vendor_version']}")


# --- the child: migrate, set up, time ------------------------------------------------------


def run_child(renewal_count: int, line_count: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from simcare.ledger import services as ledger
    from simcare.lines.models import Line
    from simcare.orders.models import Order
    from simcare.orders.services import ordering

    call_command("migrate", verbosity=0)
    lines = _setup(line_count, renewal_count)

    started = time.perf_counter()
    for index in range(renewal_count):
        order = ordering.renew(
            lines[index % line_count],
            channel="web",
            payment_method="wallet",
            idempotency_key=f"bench:renew:{index}",
            acting_user=None,
        )
        assert order.state == "fulfilled", order.state
    renew_seconds = time.perf_counter() - started
    assert Order.objects.filter(kind="renewal").count() == renewal_count

    wallets = [ledger.wallet_for(line.subscriber) for line in lines]
    revenue = ledger.system_account("revenue:plans")
    started = time.perf_counter()
    for index in range(renewal_count):
        ledger.transfer(
            kind="order_payment",
            source=wallets[index % line_count],
            destination=revenue,
            amount_cents=3955,
            idempotency_key=f"bench:transfer:{index}",
        )
    transfer_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for index in range(renewal_count):
        line = lines[index % line_count]
        Order.objects.create(
            kind="renewal",
            channel="web",
            state="fulfilled",
            subscriber_id=line.subscriber_id,
            line=line,
            plan_id=line.plan_id,
            payment_method="wallet",
            total_cents=3955,
            idempotency_key=f"bench:insert:{index}",
        )
    insert_seconds = time.perf_counter() - started

    output = io.StringIO()
    call_command("ledger", "verify", stdout=output)
    assert output.getvalue().startswith("ledger verify: clean"), output.getvalue()
    assert Line.objects.count() == line_count
    return {
        "vendor": connection.vendor,
        "vendor_version": ledger_verify._vendor_version(),
        "renewals": renewal_count,
        "renew_seconds": renew_seconds,
        "renewals_per_second": renewal_count / renew_seconds,
        "transfers_per_second": renewal_count / transfer_seconds,
        "inserts_per_second": renewal_count / insert_seconds,
    }


def _setup(line_count: int, renewal_count: int) -> list[Any]:
    """Lines activated through the service, each wallet funded for its renewals."""
    from django.db import transaction

    from simcare.accounts import services as account_services
    from simcare.catalog.models import Plan
    from simcare.ledger import services as ledger
    from simcare.lines import services as line_services
    from simcare.lines.models import Number, SimCard, SimKind

    plan = Plan.objects.create(
        code="bench30",
        name_en="Bench 30",
        name_fr="Banc 30",
        name_zh_hans="基准30",
        price_cents=3500,
        validity_days=30,
        data_mb=20480,
    )
    per_line = -(-renewal_count // line_count)
    lines = []
    with transaction.atomic():
        for index in range(line_count):
            subscriber = account_services.create_subscriber(
                username=f"bench{index}", password=None, email=f"bench{index}@example.com"
            )
            msisdn = f"+1416{7000000 + index:07d}"
            Number.objects.create(msisdn=msisdn)
            sim = SimCard.objects.create(
                iccid=_iccid(index), kind=SimKind.PHYSICAL, location="BENCH"
            )
            lines.append(
                line_services.activate_line(
                    subscriber,
                    plan,
                    kind=SimKind.PHYSICAL,
                    acting_user=None,
                    sim=sim,
                    msisdn=msisdn,
                )
            )
            # Enough for its renewals and the same number of baseline transfers.
            ledger.transfer(
                kind="wallet_topup",
                source=ledger.system_account("clearing:stripe"),
                destination=ledger.wallet_for(subscriber),
                amount_cents=2 * per_line * 3955,
            )
    return lines


def _iccid(index: int) -> str:
    from simcare.kit.iccid import make_iccid

    return make_iccid(f"8912399000{index:08d}")


if __name__ == "__main__":
    main()
