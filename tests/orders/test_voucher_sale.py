"""Selling a voucher card at a store's counter: once per card, cash into the drawer, the
refusals, double submits, and redemption of sold and unsold cards."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from simcare.accounts.models import AuditEvent, Subscriber
from simcare.ledger import queries as ledger_queries
from simcare.ledger import services as ledger
from simcare.ledger.models import LedgerEntry, LedgerTransaction
from simcare.orders.errors import VoucherNotSellable
from simcare.orders.models import Voucher, VoucherStatus
from simcare.orders.services import vouchers
from simcare.stores.models import Store

from .conftest import assert_ledger_clean, money_snapshot, store
from .vouchers_support import Batch, batch, make_batch, voucher_admin

__all__ = ["batch", "make_batch", "store", "voucher_admin"]  # fixtures

pytestmark = pytest.mark.django_db


def liability() -> int:
    return ledger_queries.balance_cents(ledger.system_account("liability:vouchers"))


def test_a_sale_posts_the_value_from_the_drawer_to_the_voucher_liability(
    batch: Batch, store: Store
) -> None:
    # given
    serial = batch[1][0][0]

    # when: the clerk types it with a dash and in lower case
    voucher = vouchers.sell_voucher(
        f"{serial[:7].lower()}-{serial[7:]}",
        store=store,
        acting_user=None,
        idempotency_key="store:1:token-a",
    )

    # then
    assert voucher.serial == serial
    assert (voucher.sold_store, voucher.sale_key) == (store, "store:1:token-a")
    assert voucher.sold_at is not None
    assert voucher.status == VoucherStatus.ACTIVE
    assert ledger.store_drawer(store).cached_balance_cents == -2500
    assert liability() == 2500
    txn = vouchers.voucher_sale_transaction(voucher)
    assert txn is not None
    assert txn.kind == "voucher_sale"
    assert sorted(txn.entries.values_list("account__code", "amount_cents")) == [
        ("cash:TOR-01", -2500),
        ("liability:vouchers", 2500),
    ]
    assert AuditEvent.objects.filter(action="voucher.sold").count() == 1
    assert_ledger_clean()


def test_the_same_request_twice_sells_once(batch: Batch, store: Store) -> None:
    serial = batch[1][0][0]

    first = vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k1")
    second = vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k1")

    assert first.pk == second.pk
    assert LedgerTransaction.objects.filter(kind="voucher_sale").count() == 1
    assert ledger.store_drawer(store).cached_balance_cents == -2500


def test_a_card_already_sold_is_refused_and_nothing_changes(batch: Batch, store: Store) -> None:
    serial = batch[1][0][0]
    vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k1")
    before = money_snapshot()

    with pytest.raises(VoucherNotSellable) as refusal:
        vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k2")

    assert refusal.value.details["reason"] == "sold"
    assert refusal.value.code == "voucher_not_sellable"
    assert money_snapshot() == before


@pytest.mark.parametrize("reason", ["void", "redeemed", "expired", "unknown", "malformed"])
def test_cards_that_cannot_be_sold(
    batch: Batch, store: Store, subscriber: Subscriber, reason: str
) -> None:
    voucher_batch, issued = batch
    serial, pin = issued[0]
    now = timezone.now()
    if reason == "void":
        vouchers.void_batch(voucher_batch, acting_user=None)
    elif reason == "redeemed":
        vouchers.redeem_voucher(subscriber, pin, ip_address=None, acting_user=None)
    elif reason == "expired":
        now = voucher_batch.expires_at + dt.timedelta(seconds=1)
    elif reason == "unknown":
        serial = "V9999990000017"
    else:
        serial = "<script>"
    before = money_snapshot()

    with pytest.raises(VoucherNotSellable) as refusal:
        vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k", now=now)

    assert refusal.value.details["reason"] == ("unknown" if reason == "malformed" else reason)
    assert money_snapshot() == before
    assert not Voucher.objects.filter(sold_at__isnull=False).exists()


def test_a_sold_card_redeems_from_the_liability_it_created(
    batch: Batch, store: Store, subscriber: Subscriber
) -> None:
    serial, pin = batch[1][0]
    vouchers.sell_voucher(serial, store=store, acting_user=None, idempotency_key="k")

    vouchers.redeem_voucher(subscriber, pin, ip_address=None, acting_user=None)

    assert liability() == 0
    assert ledger_queries.wallet_balance_cents(subscriber) == 2500
    assert ledger.store_drawer(store).cached_balance_cents == -2500
    assert_ledger_clean()


def test_an_unsold_card_still_redeems(batch: Batch, subscriber: Subscriber) -> None:
    # Cards sold by third-party retailers are never "sold" in simcare.
    pin = batch[1][1][1]

    vouchers.redeem_voucher(subscriber, pin, ip_address=None, acting_user=None)

    assert ledger_queries.wallet_balance_cents(subscriber) == 2500
    assert liability() == -2500
    assert_ledger_clean()


def test_an_idempotency_key_is_required(batch: Batch, store: Store) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        vouchers.sell_voucher(batch[1][0][0], store=store, acting_user=None, idempotency_key=" ")


def test_the_sale_time_is_recorded(batch: Batch, store: Store) -> None:
    moment = timezone.now().replace(microsecond=0)

    with time_machine.travel(moment, tick=False):
        voucher = vouchers.sell_voucher(
            batch[1][0][0], store=store, acting_user=None, idempotency_key="k"
        )

    assert voucher.sold_at == moment
    assert LedgerEntry.objects.get(account__code="cash:TOR-01").created_at == moment


THREADS = 20


@pytest.mark.postgres
@pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_twenty_counters_selling_one_card_at_once_sell_it_once(batch: Batch, store: Store) -> None:
    serial = batch[1][0][0]
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = vouchers.sell_voucher(
                serial, store=store, acting_user=None, idempotency_key=f"k{index}"
            )
        except Exception as error:  # the test inspects every outcome
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sold = [result for result in results if isinstance(result, Voucher)]
    refused = [result for result in results if isinstance(result, VoucherNotSellable)]
    assert (len(sold), len(refused)) == (1, THREADS - 1)
    assert LedgerTransaction.objects.filter(kind="voucher_sale").count() == 1
    assert ledger.store_drawer(store).cached_balance_cents == -2500
    assert ledger_queries.find_breaks() == []
