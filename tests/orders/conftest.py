"""Fixtures for money: lines made by the real service, funded wallets, coupons."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from simcare.accounts.models import Subscriber
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from simcare.orders.models import Order
from tests.lines.conftest import make_line, store

__all__ = ["make_line", "store"]


@pytest.fixture
def fund(db: Any) -> Callable[[Subscriber, int], LedgerAccount]:
    """Credit a subscriber's wallet as a card top-up would (clearing:stripe → wallet)."""

    def fund(subscriber: Subscriber, amount_cents: int) -> LedgerAccount:
        wallet = ledger.wallet_for(subscriber)
        ledger.transfer(
            kind="wallet_topup",
            source=ledger.system_account("clearing:stripe"),
            destination=wallet,
            amount_cents=amount_cents,
        )
        wallet.refresh_from_db()
        return wallet

    return fund


def balance(subscriber: Subscriber) -> int:
    return ledger.wallet_for(subscriber).cached_balance_cents


def money_snapshot() -> tuple[int, int, int, dict[str, int]]:
    """What a refused money action must leave exactly as it was."""
    return (
        Order.objects.count(),
        LedgerTransaction.objects.count(),
        LedgerEntry.objects.count(),
        dict(LedgerAccount.objects.values_list("code", "cached_balance_cents")),
    )


def assert_ledger_clean() -> None:
    """`simcare ledger verify` exits 0 (a break raises SystemExit(1) here)."""
    call_command("ledger", "verify", stdout=io.StringIO())
