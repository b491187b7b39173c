"""Redemptions racing each other on PostgreSQL: 50 threads at once, each on its own connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from simcare.accounts.models import Subscriber
from simcare.ledger import queries as ledger_queries
from simcare.ledger.models import LedgerTransaction
from simcare.notify.models import Notification
from simcare.orders.errors import VoucherInvalid, VoucherLocked
from simcare.orders.models import Voucher, VoucherStatus
from simcare.orders.services import vouchers
from tests import concurrency

from .vouchers_support import Batch, batch, make_batch, voucher_admin

__all__ = ["batch", "make_batch", "voucher_admin"]  # fixtures

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 50


def at_once(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released together; each result or exception."""
    return concurrency.at_once(work, count)


def test_fifty_accounts_redeeming_one_pin_at_once_credit_it_once(
    batch: Batch, make_subscriber: Callable[..., Subscriber]
) -> None:
    # given
    _voucher_batch, issued = batch
    serial, pin = issued[0]
    subscribers = [make_subscriber() for _ in range(THREADS)]

    # when
    results = at_once(
        lambda index: vouchers.redeem_voucher(
            subscribers[index], pin, ip_address=f"10.0.{index}.1", acting_user=None
        )
    )

    # then
    redeemed = [result for result in results if isinstance(result, Voucher)]
    refused = [result for result in results if isinstance(result, VoucherInvalid)]
    assert (len(redeemed), len(refused)) == (1, THREADS - 1)
    assert {refusal.details["reason"] for refusal in refused} == {"redeemed"}
    winner = redeemed[0].redeemed_by
    voucher = Voucher.objects.get(serial=serial)
    assert voucher.status == VoucherStatus.REDEEMED
    assert voucher.redeemed_by == winner
    assert [ledger_queries.wallet_balance_cents(s) for s in subscribers].count(2500) == 1
    assert sum(ledger_queries.wallet_balance_cents(s) for s in subscribers) == 2500
    assert LedgerTransaction.objects.filter(kind="voucher_redemption").count() == 1
    assert Notification.objects.filter(template="voucher.redeemed").count() == 2
    assert ledger_queries.find_breaks() == []


def test_fifty_attempts_of_one_account_at_once_credit_once_and_then_lock(
    batch: Batch, subscriber: Subscriber
) -> None:
    # given
    _voucher_batch, issued = batch
    pin = issued[0][1]

    # when: one account fires the same PIN 50 times at once
    results = at_once(
        lambda index: vouchers.redeem_voucher(subscriber, pin, ip_address=None, acting_user=None)
    )

    # then: one credit, five failures, the rest locked out before looking at the PIN
    kinds = [type(result).__name__ for result in results]
    assert kinds.count("Voucher") == 1
    assert kinds.count("VoucherInvalid") == 5
    assert kinds.count("VoucherLocked") == THREADS - 6
    assert all(isinstance(r, Voucher | VoucherInvalid | VoucherLocked) for r in results)
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500
    assert ledger_queries.find_breaks() == []
