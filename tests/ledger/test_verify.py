"""`simcare ledger verify`: exit 0 on a clean ledger, 1 listing each break.

Breaks are made on purpose with raw SQL INSERTs (the triggers let inserts through)
or by editing a cached balance, the two ways a bug or a hand could break the books.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from simcare.ledger import services
from simcare.ledger.models import LedgerAccount, LedgerTransaction

Post = Callable[..., LedgerTransaction]


def run_verify(stdout: io.StringIO | None = None) -> tuple[int, list[str]]:
    out = stdout or io.StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    else:
        code = 0
    return code, out.getvalue().splitlines()


def insert_transaction(*, reverses_id: int | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (created_at, kind, memo, reference, reverses_id) "
            "VALUES (%s, %s, '', '', %s) RETURNING id",
            [timezone.now(), "reversal" if reverses_id else "adjustment", reverses_id],
        )
        return int(cursor.fetchone()[0])


def insert_entry(transaction_id: int, account: LedgerAccount, amount_cents: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_cents, created_at) "
            "VALUES (%s, %s, %s, %s)",
            [transaction_id, account.pk, amount_cents, timezone.now()],
        )


def add_to_cached_balance(account: LedgerAccount, amount_cents: int) -> None:
    LedgerAccount.objects.filter(pk=account.pk).update(
        cached_balance_cents=F("cached_balance_cents") + amount_cents
    )


def test_an_empty_ledger_is_clean(db: None) -> None:
    assert run_verify() == (0, ["ledger verify: clean (0 transactions, 0 accounts)"])


def test_a_ledger_written_by_the_services_is_clean(
    wallet: LedgerAccount, top_up: Post, spend: Post
) -> None:
    # given
    top_up(wallet, 2000)
    services.reverse_transaction(spend(wallet, 500, reference="order:1"), memo="cancelled")
    spend(wallet, 1500)

    # then
    assert run_verify() == (0, ["ledger verify: clean (4 transactions, 3 accounts)"])


def test_an_entry_slipped_into_a_transaction_is_listed(wallet: LedgerAccount, top_up: Post) -> None:
    # given
    txn = top_up(wallet, 2000)

    # when
    insert_entry(txn.pk, wallet, 500)

    # then
    assert run_verify() == (
        1,
        [
            "ledger verify: 2 breaks (1 transaction, 2 accounts)",
            f"unbalanced_transaction transaction {txn.pk}: sum of entries: expected 0, actual 500",
            f"cached_balance_mismatch account {wallet.code}: "
            "cached balance (expected: the sum of its entries): expected 2500, actual 2000",
        ],
    )


def test_a_transaction_without_entries_is_listed(wallet: LedgerAccount, top_up: Post) -> None:
    top_up(wallet, 2000)

    empty_id = insert_transaction()

    assert run_verify() == (
        1,
        [
            "ledger verify: 1 break (2 transactions, 2 accounts)",
            f"too_few_entries transaction {empty_id}: number of entries: "
            "expected 2 or more, actual 0",
        ],
    )


def test_a_one_entry_transaction_is_listed(wallet: LedgerAccount, clearing: LedgerAccount) -> None:
    txn_id = insert_transaction()
    insert_entry(txn_id, wallet, 700)
    add_to_cached_balance(wallet, 700)

    code, lines = run_verify()

    assert code == 1
    assert lines[1:] == [
        f"too_few_entries transaction {txn_id}: number of entries: expected 2 or more, actual 1",
        f"unbalanced_transaction transaction {txn_id}: sum of entries: expected 0, actual 700",
    ]


def test_an_edited_cached_balance_is_listed(wallet: LedgerAccount, top_up: Post) -> None:
    top_up(wallet, 2000)

    LedgerAccount.objects.filter(pk=wallet.pk).update(cached_balance_cents=999_999)

    assert run_verify() == (
        1,
        [
            "ledger verify: 1 break (1 transaction, 2 accounts)",
            f"cached_balance_mismatch account {wallet.code}: "
            "cached balance (expected: the sum of its entries): expected 2000, actual 999999",
        ],
    )


def test_a_wallet_below_its_overdraft_limit_is_listed(
    wallet: LedgerAccount, revenue: LedgerAccount, top_up: Post
) -> None:
    # given: $20 in the wallet
    top_up(wallet, 2000)

    # when: $30 taken past the services, balanced, cache kept in step
    txn_id = insert_transaction()
    insert_entry(txn_id, wallet, -3000)
    insert_entry(txn_id, revenue, 3000)
    add_to_cached_balance(wallet, -3000)
    add_to_cached_balance(revenue, 3000)

    # then
    assert run_verify() == (
        1,
        [
            "ledger verify: 1 break (2 transactions, 3 accounts)",
            f"below_overdraft_limit account {wallet.code}: sum of entries: "
            "expected 0 or more, actual -1000",
        ],
    )


def test_the_overdraft_limit_counts_in_verify(
    wallet: LedgerAccount, revenue: LedgerAccount
) -> None:
    LedgerAccount.objects.filter(pk=wallet.pk).update(overdraft_limit_cents=500)
    txn_id = insert_transaction()
    insert_entry(txn_id, wallet, -600)
    insert_entry(txn_id, revenue, 600)
    add_to_cached_balance(wallet, -600)
    add_to_cached_balance(revenue, 600)

    code, lines = run_verify()

    assert code == 1
    assert lines[1:] == [
        f"below_overdraft_limit account {wallet.code}: sum of entries: "
        "expected -500 or more, actual -600"
    ]


def test_a_reversal_that_does_not_negate_its_original_is_listed(
    wallet: LedgerAccount, clearing: LedgerAccount, top_up: Post
) -> None:
    # given: a $20 top-up
    original = top_up(wallet, 2000)

    # when: "reversed" by $15 only
    reversal_id = insert_transaction(reverses_id=original.pk)
    insert_entry(reversal_id, wallet, -1500)
    insert_entry(reversal_id, clearing, 1500)
    add_to_cached_balance(wallet, -1500)
    add_to_cached_balance(clearing, 1500)

    # then: each surplus and missing entry is listed
    subject = f"transaction {reversal_id} (reverses {original.pk})"
    assert run_verify() == (
        1,
        [
            "ledger verify: 4 breaks (2 transactions, 2 accounts)",
            f"reversal_mismatch {subject}: entries of 1500 on clearing:stripe: "
            "expected 0, actual 1",
            f"reversal_mismatch {subject}: entries of 2000 on clearing:stripe: "
            "expected 1, actual 0",
            f"reversal_mismatch {subject}: entries of -2000 on {wallet.code}: expected 1, actual 0",
            f"reversal_mismatch {subject}: entries of -1500 on {wallet.code}: expected 0, actual 1",
        ],
    )


def test_several_breaks_are_all_listed(
    wallet: LedgerAccount, revenue: LedgerAccount, top_up: Post
) -> None:
    txn = top_up(wallet, 2000)
    insert_entry(txn.pk, revenue, 1)
    empty_id = insert_transaction()

    code, lines = run_verify()

    assert code == 1
    # revenue:plans keeps no cached balance (models.CACHED_KINDS): nothing to mismatch.
    assert lines == [
        "ledger verify: 2 breaks (2 transactions, 3 accounts)",
        f"unbalanced_transaction transaction {txn.pk}: sum of entries: expected 0, actual 1",
        f"too_few_entries transaction {empty_id}: number of entries: expected 2 or more, actual 0",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_breaks_are_a_table(
    wallet: LedgerAccount, top_up: Post, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("COLUMNS", "200")
    top_up(wallet, 2000)
    LedgerAccount.objects.filter(pk=wallet.pk).update(cached_balance_cents=1)

    # when
    code, lines = run_verify(_Terminal())

    # then
    assert code == 1
    assert lines[0].startswith("\x1b[")  # styled for the terminal
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    assert plain[0] == "ledger verify: 1 break (1 transaction, 2 accounts)"
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in plain if "│" in line]
    assert rows == [
        [
            "cached_balance_mismatch",
            f"account {wallet.code}",
            "cached balance (expected: the sum of its entries)",
            "2000",
            "1",
        ]
    ]


def test_the_simcare_command_line_exits_1_on_a_break(tmp_path: Path) -> None:
    # given: a data dir of its own, migrated by the real console script (SQLite)
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["SIMCARE_DATA_DIR"] = str(tmp_path)
    simcare = [sys.executable, "-m", "simcare.cli"]
    migrated = subprocess.run(
        [*simcare, "migrate", "--verbosity", "0"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stderr
    clean = subprocess.run(
        [*simcare, "ledger", "verify"], check=False, env=env, capture_output=True, text=True
    )
    assert (clean.returncode, clean.stdout) == (
        0,
        "ledger verify: clean (0 transactions, 0 accounts)\n",
    )

    # when: a one-sided entry is written straight into the database
    with sqlite3.connect(tmp_path / "simcare.sqlite3") as database:
        database.execute(
            "INSERT INTO ledger_account (code, kind, owner_ref, currency, overdraft_limit_cents, "
            "cached_balance_cents, created_at) "
            "VALUES ('revenue:plans', 'revenue', '', 'CAD', 0, 0, '2026-03-02 14:05:00')"
        )
        database.execute(
            "INSERT INTO ledger_transaction (id, created_at, kind, memo, reference) "
            "VALUES (7, '2026-03-02 14:05:00', 'adjustment', '', '')"
        )
        database.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount_cents, created_at) "
            "VALUES (7, 1, 500, '2026-03-02 14:05:00')"
        )
    database.close()

    # then
    broken = subprocess.run(
        [*simcare, "ledger", "verify"], check=False, env=env, capture_output=True, text=True
    )
    assert broken.returncode == 1
    assert broken.stdout.splitlines() == [
        "ledger verify: 2 breaks (1 transaction, 1 account)",
        "too_few_entries transaction 7: number of entries: expected 2 or more, actual 1",
        "unbalanced_transaction transaction 7: sum of entries: expected 0, actual 500",
    ]


@pytest.mark.parametrize("arguments", [[], ["check"]])
def test_ledger_needs_the_verify_action(db: None, arguments: list[str]) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("ledger", *arguments)
