"""Fixtures for the ledger: a funded wallet, the system accounts, a snapshot of everything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from simcare.accounts.models import Subscriber
from simcare.ledger import queries, services
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction


@dataclass(frozen=True)
class LedgerSnapshot:
    transactions: int
    entries: int
    balances: dict[str, int]


def take_snapshot() -> LedgerSnapshot:
    return LedgerSnapshot(
        transactions=LedgerTransaction.objects.count(),
        entries=LedgerEntry.objects.count(),
        balances=queries.balances_by_code(),
    )


@pytest.fixture
def snapshot(db: Any) -> Callable[[], LedgerSnapshot]:
    """Everything a refused posting must leave as it was."""
    return take_snapshot


@pytest.fixture
def clearing(db: Any) -> LedgerAccount:
    return services.system_account("clearing:stripe")


@pytest.fixture
def revenue(db: Any) -> LedgerAccount:
    return services.system_account("revenue:plans")


@pytest.fixture
def wallet(subscriber: Subscriber) -> LedgerAccount:
    return services.wallet_for(subscriber)


@pytest.fixture
def top_up(clearing: LedgerAccount) -> Callable[..., LedgerTransaction]:
    """Card top-up: clearing:stripe → the wallet."""

    def top_up(account: LedgerAccount, amount_cents: int, **options: Any) -> LedgerTransaction:
        return services.transfer(
            kind="wallet_topup",
            source=clearing,
            destination=account,
            amount_cents=amount_cents,
            **options,
        )

    return top_up


@pytest.fixture
def spend(revenue: LedgerAccount) -> Callable[..., LedgerTransaction]:
    """A purchase paid from the wallet: the wallet → revenue:plans."""

    def spend(account: LedgerAccount, amount_cents: int, **options: Any) -> LedgerTransaction:
        return services.transfer(
            kind="order_payment",
            source=account,
            destination=revenue,
            amount_cents=amount_cents,
            **options,
        )

    return spend
