"""Postings racing each other on PostgreSQL: 50 threads at once, each on its own connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.ledger import queries, services
from simcare.ledger.errors import AlreadyReversed, InsufficientFunds
from simcare.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests import concurrency

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 50
Post = Callable[..., LedgerTransaction]


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_fifty_payments_at_once_never_take_a_wallet_below_zero(
    wallet: LedgerAccount, revenue: LedgerAccount, top_up: Post
) -> None:
    # given: $10 in the wallet
    top_up(wallet, 1000)

    # when: 50 payments of $1 arrive together
    def pay(index: int) -> LedgerTransaction:
        return services.transfer(
            kind="order_payment",
            source=LedgerAccount.objects.get(pk=wallet.pk),
            destination=LedgerAccount.objects.get(pk=revenue.pk),
            amount_cents=100,
            reference=f"order:{index}",
        )

    results = at_once(pay)

    # then: exactly ten went through, the other forty were refused
    paid = [result for result in results if isinstance(result, LedgerTransaction)]
    refused = [result for result in results if isinstance(result, InsufficientFunds)]
    assert (len(paid), len(refused)) == (10, 40)
    assert queries.balance_cents(wallet) == 0
    assert queries.balance_from_entries(wallet) == 0
    assert queries.balance_cents(revenue) == 1000
    assert LedgerTransaction.objects.filter(kind="order_payment").count() == 10
    assert queries.find_breaks() == []


def test_fifty_postings_with_one_idempotency_key_create_one_transaction(
    wallet: LedgerAccount, clearing: LedgerAccount
) -> None:
    def top_up(_index: int) -> LedgerTransaction:
        return services.transfer(
            kind="wallet_topup",
            source=LedgerAccount.objects.get(pk=clearing.pk),
            destination=LedgerAccount.objects.get(pk=wallet.pk),
            amount_cents=2000,
            idempotency_key="stripe:cs_test_same",
        )

    results = at_once(top_up)

    assert all(isinstance(result, LedgerTransaction) for result in results), results
    assert {result.pk for result in results} == {
        LedgerTransaction.objects.get(idempotency_key="stripe:cs_test_same").pk
    }
    assert LedgerTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 2
    assert queries.balance_cents(wallet) == 2000
    assert queries.find_breaks() == []


def test_fifty_reversals_of_one_transaction_reverse_it_once(
    wallet: LedgerAccount, top_up: Post
) -> None:
    txn = top_up(wallet, 2000)

    results = at_once(lambda index: services.reverse_transaction(txn, memo=f"attempt {index}"))

    reversals = [result for result in results if isinstance(result, LedgerTransaction)]
    refused = [result for result in results if isinstance(result, AlreadyReversed)]
    assert (len(reversals), len(refused)) == (1, 49)
    assert LedgerTransaction.objects.filter(reverses=txn).count() == 1
    assert queries.balance_cents(wallet) == 0
    assert queries.find_breaks() == []


def test_transfers_in_both_directions_at_once_do_not_deadlock(
    make_subscriber: Callable[..., Subscriber], top_up: Post
) -> None:
    # given: two funded wallets
    first = services.wallet_for(make_subscriber())
    second = services.wallet_for(make_subscriber())
    top_up(first, 5000)
    top_up(second, 5000)

    # when: half the threads move first → second, half second → first
    def move(index: int) -> LedgerTransaction:
        source, destination = (first, second) if index % 2 else (second, first)
        return services.transfer(
            kind="adjustment",
            source=LedgerAccount.objects.get(pk=source.pk),
            destination=LedgerAccount.objects.get(pk=destination.pk),
            amount_cents=100 + index,
        )

    results = at_once(move)

    # then: every transfer went through (locks taken in primary-key order)
    assert all(isinstance(result, LedgerTransaction) for result in results), results
    moved_to_second = sum(100 + index for index in range(THREADS) if index % 2)
    moved_to_first = sum(100 + index for index in range(THREADS) if not index % 2)
    assert queries.balance_cents(first) == 5000 - moved_to_second + moved_to_first
    assert queries.balance_cents(second) == 5000 + moved_to_second - moved_to_first
    assert queries.find_breaks() == []


def test_fifty_first_uses_of_a_wallet_open_one_wallet(subscriber: Subscriber) -> None:
    results = at_once(lambda _index: services.wallet_for(subscriber).pk)

    assert len(set(results)) == 1, results
    assert LedgerAccount.objects.filter(subscriber=subscriber).count() == 1
