"""How long `simcare ledger verify` takes on a million ledger entries.

    python benchmarks/ledger_verify.py                      # SQLite and PostgreSQL
    python benchmarks/ledger_verify.py --backend sqlite     # or postgresql
    python benchmarks/ledger_verify.py --transactions 50000 # a smaller book

Each backend gets a throwaway database: a SQLite file in a temporary data dir, or a
PostgreSQL database created next to DATABASE_URL's (default
postgres://postgres@127.0.0.1:55432/simcare) and dropped at the end. The script
migrates it, bulk-loads balanced transactions over 10,000 wallets (COPY on
PostgreSQL, executemany on SQLite; two entries each, so 500,000 transactions make
1,000,000 entries), then times, in the same run:

- baseline: a bare `SELECT SUM(amount_cents) FROM ledger_entry` (one scan, no grouping)
- verify: `simcare ledger verify` (call_command), every invariant

and finally breaks one transaction on purpose to show verify notices it (exit 1).
Each timing is the median of three runs on a warm cache.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:55432/simcare"
CREATED_AT = "2026-03-02 14:05:00"
TOP_UP_CENTS = 1000
PAYMENT_CENTS = 500
REPEATS = 3


# --- the parent: one child process per backend (Django configures itself once) ---------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--transactions", type=int, default=500_000)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_child(arguments.transactions, arguments.wallets)))
        return

    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    results = [run_backend(name, arguments.transactions, arguments.wallets) for name in backends]
    print_results(results)


def run_backend(backend: str, transactions: int, wallets: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="simcare-bench-") as data_dir:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["SIMCARE_DATA_DIR"] = data_dir
        command = [
            sys.executable,
            __file__,
            "--child",
            "--transactions",
            str(transactions),
            "--wallets",
            str(wallets),
        ]
        if backend == "sqlite":
            return _run_child_process(command, env)
        base_url = os.environ.get("DATABASE_URL", DEFAULT_POSTGRES_URL)
        name = f"simcare_bench_{os.getpid()}"
        _postgres_admin(base_url, f'CREATE DATABASE "{name}"')
        try:
            env["DATABASE_URL"] = _with_database(base_url, name)
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


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _postgres_admin(base_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(base_url, "postgres"), autocommit=True) as admin:
        admin.execute(statement)


def print_results(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'database':<11} {'entries':>10} {'load s':>8} {'verify s':>9} "
        f"{'entries/s':>11} {'SUM s':>7} {'SUM entries/s':>14} {'verify/SUM':>10}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        print(
            f"{result['vendor']:<11} {result['entries']:>10,} {result['load_seconds']:>8.1f} "
            f"{result['verify_seconds']:>9.2f} {result['verify_entries_per_second']:>11,.0f} "
            f"{result['baseline_seconds']:>7.3f} {result['baseline_entries_per_second']:>14,.0f} "
            f"{result['verify_seconds'] / result['baseline_seconds']:>9.1f}x"
        )
    for result in results:
        print(
            f"{result['vendor']}: {result['vendor_version']}; after one break: {result['broken']}"
        )


# --- the child: migrate, load, time ----------------------------------------------------


def run_child(transaction_count: int, wallet_count: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    entry_count = load(transaction_count, wallet_count)
    load_seconds = time.perf_counter() - started

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SUM(amount_cents) FROM ledger_entry")
            assert cursor.fetchone()[0] == 0

    def verify() -> None:
        output = io.StringIO()
        call_command("ledger", "verify", stdout=output)  # exits 1 on a break
        assert output.getvalue().startswith("ledger verify: clean"), output.getvalue()

    baseline_seconds = _median_seconds(baseline)
    verify_seconds = _median_seconds(verify)
    return {
        "vendor": connection.vendor,
        "vendor_version": _vendor_version(),
        "entries": entry_count,
        "load_seconds": load_seconds,
        "baseline_seconds": baseline_seconds,
        "baseline_entries_per_second": entry_count / baseline_seconds,
        "verify_seconds": verify_seconds,
        "verify_entries_per_second": entry_count / verify_seconds,
        "broken": _break_one_and_verify(),
    }


def _median_seconds(work: Callable[[], None]) -> float:
    work()  # warm the cache
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _vendor_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def load(transaction_count: int, wallet_count: int) -> int:
    """Balanced transactions: rounds of one top-up per wallet, then one payment per wallet.

    Even rounds top each wallet up by $10 (clearing:stripe → wallet), odd rounds pay
    $5 (wallet → revenue:plans), so no wallet ever goes below zero.
    """
    from django.db import connection, transaction

    from simcare.accounts.models import Subscriber, User
    from simcare.ledger.models import AccountKind, LedgerAccount

    with transaction.atomic():
        users = User.objects.bulk_create(
            # "!" starts Django's mark for an unusable password: nobody signs in.
            User(username=f"bench{index}", password="!")  # noqa: S106
            for index in range(wallet_count)
        )
        subscribers = Subscriber.objects.bulk_create(Subscriber(user=user) for user in users)
        wallets = LedgerAccount.objects.bulk_create(
            LedgerAccount(kind=AccountKind.WALLET, code=f"wallet:{sub.pk}", subscriber=sub)
            for sub in subscribers
        )
        clearing = LedgerAccount.objects.create(kind=AccountKind.CLEARING, code="clearing:stripe")
        revenue = LedgerAccount.objects.create(kind=AccountKind.REVENUE, code="revenue:plans")
    wallet_ids = [wallet.pk for wallet in wallets]
    balances = dict.fromkeys([*wallet_ids, clearing.pk, revenue.pk], 0)

    def postings() -> Iterator[tuple[int, int, int, int]]:
        """(transaction id, source account, destination account, cents)."""
        for index in range(transaction_count):
            wallet_id = wallet_ids[index % wallet_count]
            if (index // wallet_count) % 2 == 0:
                yield index + 1, clearing.pk, wallet_id, TOP_UP_CENTS
            else:
                yield index + 1, wallet_id, revenue.pk, PAYMENT_CENTS

    def entries() -> Iterator[tuple[int, int, int, int, str]]:
        for transaction_id, source, destination, cents in postings():
            balances[source] -= cents
            balances[destination] += cents
            yield transaction_id * 2 - 1, transaction_id, source, -cents, CREATED_AT
            yield transaction_id * 2, transaction_id, destination, cents, CREATED_AT

    transaction_rows = (
        (
            index + 1,
            CREATED_AT,
            "wallet_topup" if (index // wallet_count) % 2 == 0 else "order_payment",
            "",
            "",
        )
        for index in range(transaction_count)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(
                "COPY ledger_transaction (id, created_at, kind, memo, reference) FROM STDIN"
            ) as copy:
                for transaction_row in transaction_rows:
                    copy.write_row(transaction_row)
            with raw.copy(
                "COPY ledger_entry (id, transaction_id, account_id, amount_cents, created_at) "
                "FROM STDIN"
            ) as copy:
                for entry_row in entries():
                    copy.write_row(entry_row)
            for table in ("ledger_transaction", "ledger_entry"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
        else:
            raw = cursor.cursor
            raw.executemany(
                "INSERT INTO ledger_transaction (id, created_at, kind, memo, reference) "
                "VALUES (?, ?, ?, ?, ?)",
                transaction_rows,
            )
            raw.executemany(
                "INSERT INTO ledger_entry (id, transaction_id, account_id, amount_cents, "
                "created_at) VALUES (?, ?, ?, ?, ?)",
                entries(),
            )
        cursor.executemany(
            "UPDATE ledger_account SET cached_balance_cents = %s WHERE id = %s",
            [(balance, account_id) for account_id, balance in balances.items()],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return transaction_count * 2


def _break_one_and_verify() -> str:
    """One entry slipped into transaction 1: verify must exit 1 and list it."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_cents, created_at) "
            "SELECT transaction_id, account_id, 1, created_at FROM ledger_entry WHERE id = 1"
        )
    output = io.StringIO()
    try:
        call_command("ledger", "verify", stdout=output)
    except SystemExit as exit_:
        return f"exit {exit_.code}, {output.getvalue().splitlines()[0]}"
    raise AssertionError("verify missed a broken transaction")


if __name__ == "__main__":
    main()
